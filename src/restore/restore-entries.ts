import type { Entry } from 'yauzl';
import { checkEntryDigest, checkEntryRecord, unreadableEntry } from '../archive/entry-check.js';
import type { Digest } from '../archive/hashing.js';
import { entryPathProblem, type ManifestEntry } from '../archive/manifest.js';
import type { ZipReader } from '../archive/zip-reader.js';
import { UnsafeEntryError } from './restore-paths.js';

/**
 * Checks one entry to restore before any of its bytes are read: a safe name of the right shape for
 * its kind (UnsafeEntryError, RW_RESTORE_UNSAFE_ENTRY: it must never be written), then its
 * central-directory record against the (authenticated) manifest as `backups verify` checks it
 * (BackupCorruptError). That it is a regular file openZip already proved, for every entry of the
 * archive. Returns the ZIP entry.
 */
export function checkEntryToRestore(zip: ZipReader, expected: ManifestEntry): Entry {
  const unsafe = entryPathProblem(expected.path, expected.kind, expected.tenant);
  if (unsafe) throw new UnsafeEntryError(expected.path, unsafe);
  return checkEntryRecord(zip, expected);
}

const HASH_LANES = 8;

/**
 * Reads `entries` (already checked with checkEntryToRestore) and checks each one's size, CRC-32 and
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
  checkEntryDigest(zip.file, expected, seen);
}
