// Deterministic randomness for the data sets: the same seed gives the same bytes on every machine,
// so a cached data set and a fresh one are interchangeable.
import { createCipheriv, createHash } from 'node:crypto';

/** A small seeded PRNG (mulberry32) for sizes, choices and text; returns floats in [0, 1). */
export function prng(seed) {
  let state = hashSeed(seed);
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    /** Log-uniform between min and max: many small values, a few large ones, like real file sizes. */
    logUniform: (min, max) => Math.round(Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min)))),
  };
}

/**
 * Incompressible bytes from a seed (AES-256-CTR over zeros): fast enough for gigabytes, and what an
 * already-compressed JPEG or PNG body looks like to deflate.
 */
export function byteStream(seed) {
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return (length) => cipher.update(Buffer.alloc(length));
}

function hashSeed(seed) {
  return createHash('sha256').update(String(seed)).digest().readUInt32LE(0);
}
