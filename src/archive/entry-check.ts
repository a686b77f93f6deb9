import { stat } from 'node:fs/promises';
import type { Entry } from 'yauzl';
import { errorMessage, FatalError, wrapError } from '../core/errors.js';
import { BackupCorruptError } from './errors.js';
import type { Digest } from './hashing.js';
import { type ManifestEntry, ZIP_METHOD } from './manifest.js';
import type { ZipReader } from './zip-reader.js';

/**
 * The checks of an archive's entries against its manifest, shared by `backups verify` and restore,
 * so both refuse the same damage with the same words.
 */

/** Size in bytes of the archive at `file`; FatalError RW_BACKUP_NOT_FOUND when it is missing or not a file. */
export async function statArchive(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new FatalError('RW_BACKUP_NOT_FOUND', `backup ${file} is not a file`);
    return info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new FatalError('RW_BACKUP_NOT_FOUND', `backup ${file} does not exist`, { cause: error });
    throw error instanceof FatalError ? error : wrapError(`read backup ${file}`, error, 'RW_BACKUP_IO');
  }
}

/**
 * Checks the central-directory record of `expected` before any of its bytes are read: present, and
 * the compression method, uncompressed size and CRC-32 the manifest promises (a stored entry's
 * compressed size must equal its size). Returns the ZIP entry; throws BackupCorruptError
 * (RW_BACKUP_CORRUPT) naming the first difference.
 */
export function checkEntryRecord(zip: ZipReader, expected: ManifestEntry): Entry {
  const corrupt = (problem: string) => new BackupCorruptError(zip.file, expected.path, problem);
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
 * Compares what was read of an entry (while extracting or writing it, or only hashing it) with its
 * manifest entry; throws BackupCorruptError naming the first difference.
 */
export function checkEntryDigest(archive: string, expected: ManifestEntry, seen: Digest): void {
  const corrupt = (problem: string) => new BackupCorruptError(archive, expected.path, problem);
  if (seen.size !== expected.size)
    throw corrupt(`holds ${seen.size} bytes, the manifest says ${expected.size}`);
  if (seen.crc32 !== expected.crc32)
    throw corrupt(`CRC-32 of the data is ${hex(seen.crc32)}, the manifest says ${hex(expected.crc32)}`);
  if (seen.sha256 !== expected.sha256)
    throw corrupt(`SHA-256 of the data is ${seen.sha256}, the manifest says ${expected.sha256}`);
}

/**
 * The error for an entry whose bytes cannot be read or extracted (`doing`: read, extract for
 * checking...): local disk trouble is not the archive's fault (RW_BACKUP_IO); bad data in it is
 * (BackupCorruptError).
 */
export function unreadableEntry(archive: string, entry: string, error: unknown, doing = 'read'): Error {
  if (error instanceof BackupCorruptError) return error;
  if ((error as NodeJS.ErrnoException).syscall)
    return wrapError(`${doing} ${entry} of ${archive}`, error, 'RW_BACKUP_IO');
  return new BackupCorruptError(archive, entry, `cannot be read: ${errorMessage(error)}`, { cause: error });
}

/** A CRC-32 as eight hex digits, as `unzip -v` shows it. */
export function hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
