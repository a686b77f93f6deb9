import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FatalError, wrapError } from '../core/errors.js';
import type { Crc32cFactory } from './crc32c.js';
import { OffsiteCode } from './offsite-errors.js';

/** The age library (age-encryption: pure JavaScript), loaded on first use only. */
export type AgeModule = typeof import('age-encryption');

let age: Promise<AgeModule> | undefined;

/**
 * Loads age-encryption once: only a daemon with recipients configured, or a restore given an
 * identity, pays for it (it brings the noble ciphers and curves).
 */
export function loadAge(): Promise<AgeModule> {
  age ??= import('age-encryption');
  return age;
}

/** Appended to an archive's object name when the copy is encrypted. */
export const AGE_SUFFIX = '.age';

/** First line of every age file (the binary format, not armored). */
export const AGE_MAGIC = 'age-encryption.org/v1\n';

/** A ciphertext written to a local file, with what copyOffsite confirms a copy by. */
export interface Ciphertext {
  file: string;
  /** Bytes. */
  size: number;
  /** CRC32C (base64) of the ciphertext. */
  crc32c: string;
  /** SHA-256 (hex) of the ciphertext: what a full read-back compares. */
  sha256: string;
}

/**
 * The size of an age payload (nonce and STREAM chunks, all but the header) for `plaintextSize` bytes:
 * a 16-byte nonce, then the bytes in 64 KiB chunks, each with a 16-byte tag (one chunk for no bytes).
 * A ciphertext is this plus its header, whose size depends on the recipients.
 */
export function agePayloadSize(plaintextSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / 65_536));
  return 16 + plaintextSize + 16 * chunks;
}

/**
 * Encrypts `plainFile` to `recipients` (age X25519 public keys) into `toFile`, streaming: memory
 * stays at a few chunks whatever the size. The CRC32C, SHA-256 and size of the ciphertext are
 * computed as it is written. Every call makes a different ciphertext (a random file key).
 * `toFile` is removed when this fails. Throws FatalError RW_OFFSITE_LOCAL_IO when reading or writing
 * fails (the message names the file), RW_OFFSITE_ENCRYPT when the library refuses (a bad recipient:
 * the config check makes that rare); an abort of `signal` rejects with its reason.
 */
export async function encryptFile(
  plainFile: string,
  recipients: readonly string[],
  toFile: string,
  signal: AbortSignal,
  crc32c: Crc32cFactory,
): Promise<Ciphertext> {
  const { Encrypter } = await loadAge();
  const encrypter = new Encrypter();
  try {
    for (const recipient of recipients) encrypter.addRecipient(recipient);
  } catch (error) {
    throw new FatalError(OffsiteCode.encrypt, `encrypt ${plainFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const crc = crc32c();
  const sha256 = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc.update(chunk);
      sha256.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    const plain = Readable.toWeb(createReadStream(plainFile, { highWaterMark: 1 << 20 }));
    const cipher = await encrypter.encrypt(plain as ReadableStream<Uint8Array>);
    await pipeline(
      Readable.fromWeb(cipher as import('node:stream/web').ReadableStream<Uint8Array>),
      measure,
      createWriteStream(toFile),
      { signal },
    );
  } catch (error) {
    await rm(toFile, { force: true });
    signal.throwIfAborted();
    throw wrapError(`encrypt ${plainFile} to ${toFile}`, error, OffsiteCode.localIo);
  }
  return { file: toFile, size, crc32c: crc.toString(), sha256: sha256.digest('hex') };
}
