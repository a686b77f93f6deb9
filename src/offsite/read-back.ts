import { createHash } from 'node:crypto';
import { FatalError, RetryableError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { OffsiteCode } from './offsite-errors.js';

/** Bytes per ranged read of a full read-back: the most held in memory at once. */
export const READ_BACK_CHUNK = 8 * 1024 * 1024;

export interface ReadBackExpectation {
  /** The generation that was confirmed by its metadata: every range must come from it. */
  generation: number;
  size: number;
  /** SHA-256 (hex) of the local archive. */
  sha256: string;
}

/**
 * Reads the whole object back in ranges and compares the SHA-256 of its bytes with the local
 * archive's: what a metadata read-back cannot see (bytes damaged in the bucket after their CRC32C was
 * recorded). Memory stays at one chunk; no disk is used. Throws FatalError RW_OFFSITE_MISMATCH when
 * the bytes differ, RetryableError RW_OFFSITE_RACED when another generation answers a range.
 */
export async function readBackObject(
  store: ObjectStore,
  objectName: string,
  expected: ReadBackExpectation,
  signal: AbortSignal,
  chunkBytes = READ_BACK_CHUNK,
): Promise<void> {
  const hash = createHash('sha256');
  let offset = 0;
  while (offset < expected.size) {
    const end = Math.min(offset + chunkBytes, expected.size) - 1;
    const { bytes, generation } = await store.read(objectName, { range: { start: offset, end } }, signal);
    if (generation !== expected.generation) {
      throw new RetryableError(
        OffsiteCode.raced,
        `read back ${objectName}: generation ${generation} answered, ${expected.generation} was uploaded; it was replaced meanwhile`,
      );
    }
    if (bytes.length !== end - offset + 1) {
      throw new FatalError(
        OffsiteCode.mismatch,
        `read back ${objectName}: bytes ${offset}-${end} came back as ${bytes.length} bytes`,
      );
    }
    hash.update(bytes);
    offset = end + 1;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== expected.sha256) {
    throw new FatalError(
      OffsiteCode.mismatch,
      `read back ${objectName}: its bytes hash to SHA-256 ${sha256}, the archive's is ${expected.sha256}`,
    );
  }
}
