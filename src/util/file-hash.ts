import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** Reads large files in 1 MiB chunks: few syscalls (a 300 MB file in 300 reads), flat memory. */
export const READ_CHUNK = 1024 * 1024;

/**
 * SHA-256 (hex) of the whole file as it is on disk now, read in 1 MiB chunks into one buffer (no
 * garbage per chunk). `onProgress` gets the bytes hashed so far. Throws the signal's reason when
 * aborted, and the file system's error (ENOENT, EIO...) unwrapped: the caller says what it was doing.
 */
export async function sha256File(
  file: string,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let done = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
      options.onProgress?.(done);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * CRC-32 (unsigned) of the whole file as it is on disk now, read as sha256File reads. A fraction of
 * SHA-256's cost: for reading back bytes this process wrote (and hashed) itself, where the errors
 * to catch are accidental (a write at the wrong offset, a short or lost write), not forged.
 */
export async function crc32File(file: string, options: { signal?: AbortSignal } = {}): Promise<number> {
  let crc = 0;
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      crc = crc32(buffer.subarray(0, bytesRead), crc);
    }
  } finally {
    await handle.close();
  }
  return crc >>> 0;
}
