import type { Entry } from 'yauzl';
import { errorMessage, wrapError } from '../core/errors.js';
import { BackupCorruptError } from '../archive/errors.js';
import type { Digest } from '../archive/hashing.js';
import { entryPathProblem, type ManifestEntry, ZIP_METHOD } from '../archive/manifest.js';
import { hex } from '../archive/manifest-read.js';
import { UnsafeEntryError } from './restore-paths.js';
import type { ZipReader } from '../archive/zip-reader.js';

/**
 * Checks the central-directory record of one entry to restore against its (authenticated)
 * manifest entry before any of its bytes are read: a safe name of the right shape for its kind,
 * and the compression method, uncompressed size and CRC-32 the manifest promises (a stored entry's
 * compressed size must equal its size). That it is a regular file openZip already proved, for
 * every entry of the archive. Returns the ZIP entry. Throws UnsafeEntryError
 * (RW_RESTORE_UNSAFE_ENTRY) for a name that must never be written, BackupCorruptError
 * (RW_BACKUP_CORRUPT) for a record that disagrees with the manifest.
 */
export function checkEntryRecord(zip: ZipReader, expected: ManifestEntry): Entry {
  const corrupt = (problem: string) => new BackupCorruptError(zip.file, expected.path, problem);
  const unsafe = entryPathProblem(expected.path, expected.kind, expected.tenant);
  if (unsafe) throw new UnsafeEntryError(expected.path, unsafe);
  const entry = zip.entries.get(expected.path);
  if (!entry) throw corrupt('is listed in the manifest but missing from the archive');
  if (entry.compressionMethod !== ZIP_METHOD[expected.method])
    throw corrupt(
      `ZIP compression method is ${entry.compressionMethod}, the manifest says ${expected.method}`,
    );
  if (entry.uncompressedSize !== expected.size)
    throw corrupt(`ZIP says ${entry.uncompressedSize} bytes, the manifest says ${expected.size}`);
  if (entry.crc32 >>> 0 !== expected.crc32)
    throw corrupt(`ZIP CRC-32 is ${hex(entry.crc32)}, the manifest says ${hex(expected.crc32)}`);
  if (expected.method === 'store' && entry.compressedSize !== entry.uncompressedSize)
    throw corrupt(`is stored with ${entry.compressedSize} bytes for ${entry.uncompressedSize} of data`);
  return entry;
}

/**
 * Compares what was read of an entry (while writing it, or only hashing it) with its manifest
 * entry; throws BackupCorruptError naming the first difference.
 */
export function checkEntryDigest(
  archive: string,
  expected: ManifestEntry,
  seen: { bytes: number; crc32: number; sha256: string },
): void {
  const corrupt = (problem: string) => new BackupCorruptError(archive, expected.path, problem);
  if (seen.bytes !== expected.size)
    throw corrupt(`holds ${seen.bytes} bytes, the manifest says ${expected.size}`);
  if (seen.crc32 !== expected.crc32)
    throw corrupt(`CRC-32 of the data is ${hex(seen.crc32)}, the manifest says ${hex(expected.crc32)}`);
  if (seen.sha256 !== expected.sha256)
    throw corrupt(`SHA-256 of the data is ${seen.sha256}, the manifest says ${expected.sha256}`);
}

/** The error for an entry whose bytes cannot be read (bad deflate data, wrong length). */
export function unreadableEntry(archive: string, entry: string, error: unknown): Error {
  if (error instanceof BackupCorruptError) return error;
  // Local disk trouble while reading is not the archive's fault; bad data in it is.
  if ((error as NodeJS.ErrnoException).syscall)
    return wrapError(`read ${entry} of ${archive}`, error, 'RW_BACKUP_IO');
  return new BackupCorruptError(archive, entry, `cannot be read: ${errorMessage(error)}`, { cause: error });
}

const HASH_LANES = 8;

/**
 * Reads `entries` (already checked with checkEntryRecord) and checks each one's size, CRC-32 and
 * SHA-256 against the manifest without writing anything, several at once (for many small files
 * the cost is latency per entry, not bytes). Used before a media restore writes its first file,
 * so a damaged entry refuses the restore with nothing written. `onProgress` gets the bytes read
 * so far and the total of the entries.
 */
export async function hashEntries(
  zip: ZipReader,
  entries: readonly ManifestEntry[],
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const total = entries.reduce((sum, entry) => sum + entry.size, 0);
  let done = 0;
  const onBytes = (bytes: number) => {
    done += bytes;
    onProgress?.(done, total);
  };
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    // A child signal per lane: each read adds an abort listener, and many lanes on one signal
    // would pass Node's default limit of ten.
    const own = AbortSignal.any([signal]);
    while (failure === undefined && next < entries.length) {
      const expected = entries[next++] as ManifestEntry;
      try {
        await hashEntry(zip, expected, own, onBytes);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_LANES, entries.length) }, lane));
  if (failure) throw failure.error;
}

async function hashEntry(
  zip: ZipReader,
  expected: ManifestEntry,
  signal: AbortSignal,
  onBytes?: (bytes: number) => void,
): Promise<void> {
  let seen: Digest;
  try {
    seen = await zip.digest(zip.entries.get(expected.path) as Entry, signal, onBytes);
  } catch (error) {
    signal.throwIfAborted();
    throw unreadableEntry(zip.file, expected.path, error);
  }
  checkEntryDigest(zip.file, expected, { bytes: seen.size, crc32: seen.crc32, sha256: seen.sha256 });
}
