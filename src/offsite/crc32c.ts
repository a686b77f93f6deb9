import { createReadStream } from 'node:fs';
import { wrapError } from '../core/errors.js';

/** A running CRC32C: the shape of @google-cloud/storage's `CRC32C` class (toString is base64). */
export interface Crc32cHasher {
  update(data: Buffer): void;
  toString(): string;
}

export type Crc32cFactory = () => Crc32cHasher;

/**
 * The CRC32C of @google-cloud/storage, the code its uploads and downloads are validated with, so the
 * two cannot disagree. Pure JavaScript, about 18 s per GB on this project's machines: a native one
 * with the same shape can be passed to copyOffsite (and to the client as `crc32cGenerator`).
 * Loaded on first use, with the client.
 */
export async function loadCrc32c(): Promise<Crc32cFactory> {
  const { CRC32C } = await import('@google-cloud/storage');
  return () => new CRC32C();
}

/** CRC32C (base64) of a local file, read in 1 MiB chunks; RW_OFFSITE_LOCAL_IO on a read failure. */
export async function crc32cOfFile(
  file: string,
  factory: Crc32cFactory,
  signal: AbortSignal,
): Promise<string> {
  const hasher = factory();
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
      hasher.update(chunk as Buffer);
    }
  } catch (error) {
    signal.throwIfAborted();
    throw wrapError(`read ${file}`, error, 'RW_OFFSITE_LOCAL_IO');
  }
  return hasher.toString();
}
