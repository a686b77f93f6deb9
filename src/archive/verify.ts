import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Entry } from 'yauzl';
import { crc32 } from 'node:zlib';
import { BackupCorruptError } from './errors.js';
import { HashingStream } from './hashing.js';
import { READ_CHUNK, sha256File } from '../util/file-hash.js';
import { checkEntryDigest, checkEntryRecord, hex, statArchive, unreadableEntry } from './entry-check.js';
import { MANIFEST_ENTRY, type Manifest, type ManifestEntry } from './manifest.js';
import { readManifestWithDigest } from './manifest-read.js';
import { integrityProblem } from './sqlite-check.js';
import { removeDatabaseFiles, tempPath } from '../util/temp-files.js';
import { openZip, type ZipReader } from './zip-reader.js';
import type { WrittenEntry } from './zip-writer.js';

export { BackupCorruptError } from './errors.js';

/** An archive that passed every check. */
export interface VerifiedArchive {
  /** The path given to verifyArchive. */
  file: string;
  /** Size of the whole ZIP in bytes. */
  size: number;
  /** SHA-256 (hex) of the whole ZIP file. */
  sha256: string;
  manifest: Manifest;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  /**
   * Where database entries are extracted for `integrity_check`; default: the archive's folder (the
   * same disk as the backups, not a possibly small /tmp). Temp files are removed afterwards.
   */
  tempDir?: string;
  /** Called as entry bytes are checked: bytes done so far and the total of all entries. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Proves an archive good: reopens the ZIP, checks that its entries are exactly the manifest's (plus
 * manifest.json), that every entry's compression method, size, CRC-32 and SHA-256 match the
 * manifest, and that every database entry passes `PRAGMA integrity_check`. Read-only towards the
 * archive. Throws BackupCorruptError (code RW_BACKUP_CORRUPT) naming the entry and what was wrong;
 * BackupFormatError when the manifest is newer than this runwarden; FatalError RW_BACKUP_NOT_FOUND
 * when the file does not exist; the signal's reason when aborted.
 */
export async function verifyArchive(file: string, options: VerifyOptions = {}): Promise<VerifiedArchive> {
  const size = await statArchive(file);
  const [sha256, manifest] = await Promise.all([
    sha256File(file, { signal: options.signal }),
    checkEntries(file, options),
  ]);
  return { file, size, sha256, manifest };
}

/** Reads and validates manifest.json without checking the entries (listing, planning). */
export async function readManifest(file: string, options: { signal?: AbortSignal } = {}): Promise<Manifest> {
  await statArchive(file);
  const zip = await openZip(file);
  try {
    return await readManifestFrom(zip, options.signal);
  } finally {
    zip.close();
  }
}

/**
 * The uncompressed bytes of one archive entry (`db/db.sqlite3`, `tenants/acme.sqlite3`, ...),
 * streamed; the ZIP is closed when the stream ends or fails. Errors arrive on the stream:
 * BackupCorruptError when the entry is missing or unreadable. This does not check the entry's
 * hashes: verify the archive first, and hash the bytes as they pass if they must match the manifest.
 */
export function openArchiveEntry(
  file: string,
  entryPath: string,
  options: { signal?: AbortSignal } = {},
): Readable {
  const out = new PassThrough({ highWaterMark: READ_CHUNK });
  void (async () => {
    const zip = await openZip(file);
    try {
      const entry = zip.entries.get(entryPath);
      if (!entry) throw new BackupCorruptError(file, entryPath, 'is not in the archive');
      await pipeline(await zip.open(entry, options.signal), out, { signal: options.signal });
    } finally {
      zip.close();
    }
  })().catch((error: unknown) => out.destroy(error as Error));
  return out;
}

/**
 * Proves an archive this process has just written and fsynced, without inflating it again: the
 * central directory and manifest are read back and checked as verifyArchive checks them (exact set
 * of entries; each record's method, size and CRC-32 against the manifest), each entry's manifest
 * line must be what the writer recorded for it, and every entry's data is read back from the file
 * and its CRC-32 must equal that of the bytes the writer handed to the file, which the pipeline
 * proved inflate to the bytes hashed (checkInflates) and whose databases passed integrity_check.
 * The whole file is hashed for the catalog alongside (a second read, from the page cache). Only
 * for archives whose entries all went through such a pipeline in this process; everything else
 * takes verifyArchive. Throws as verifyArchive does (BackupCorruptError naming the entry).
 */
export async function verifyWrittenArchive(
  file: string,
  written: readonly WrittenEntry[],
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<VerifiedArchive> {
  const size = await statArchive(file);
  const [sha256, manifest] = await Promise.all([
    sha256File(file, { signal: options.signal }),
    checkWrittenEntries(file, written, options),
  ]);
  return { file, size, sha256, manifest };
}

async function checkWrittenEntries(
  file: string,
  written: readonly WrittenEntry[],
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void },
): Promise<Manifest> {
  const zip = await openZip(file);
  try {
    const manifest = await readManifestFrom(zip, options.signal);
    checkEntrySet(zip, manifest);
    const byName = new Map(written.map((entry) => [entry.name, entry]));
    const total = written.reduce((sum, entry) => sum + entry.compressedSize, 0);
    let done = 0;
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      /** The CRC-32 of `length` bytes of the file at `offset`; `corrupt` names the entry when short. */
      const readBack = async (
        offset: number,
        length: number,
        corrupt: (problem: string) => Error,
      ): Promise<number> => {
        let crc = 0;
        for (let at = 0; at < length; ) {
          const want = Math.min(buffer.length, length - at);
          const { bytesRead } = await handle.read(buffer, 0, want, offset + at);
          if (bytesRead === 0) throw corrupt(`the file ends ${length - at} bytes short of what was written`);
          crc = crc32(buffer.subarray(0, bytesRead), crc);
          at += bytesRead;
        }
        return crc >>> 0;
      };
      for (const expected of manifest.entries) {
        options.signal?.throwIfAborted();
        const entry = checkEntryRecord(zip, expected);
        const corrupt = (problem: string) => new BackupCorruptError(file, expected.path, problem);
        const data = byName.get(expected.path);
        if (!data) throw corrupt('is in the manifest but was not written by this backup');
        checkEntryDigest(file, expected, data);
        if (entry.compressedSize !== data.compressedSize)
          throw corrupt(
            `ZIP says ${entry.compressedSize} bytes of data, ${data.compressedSize} were written`,
          );
        if (expected.method === 'store' && data.dataCrc32 !== expected.crc32)
          throw corrupt(
            `stored bytes written have CRC-32 ${hex(data.dataCrc32)}, the manifest says ${hex(expected.crc32)}`,
          );
        const header = data.dataOffset - data.headerOffset;
        if (entry.relativeOffsetOfLocalHeader !== data.headerOffset)
          throw corrupt(
            `ZIP puts its header at ${entry.relativeOffsetOfLocalHeader}, it was written at ${data.headerOffset}`,
          );
        if ((await readBack(data.headerOffset, header, corrupt)) !== data.headerCrc32)
          throw corrupt(
            'local header read back differs from the one written: the file changed after it was written',
          );
        const crc = await readBack(data.dataOffset, data.compressedSize, corrupt);
        done += data.compressedSize;
        options.onProgress?.(done, total);
        if (crc !== data.dataCrc32)
          throw corrupt(
            `data read back has CRC-32 ${hex(crc)}, the bytes written had ${hex(data.dataCrc32)}: the file changed after it was written`,
          );
      }
    } finally {
      await handle.close();
    }
    return manifest;
  } finally {
    zip.close();
  }
}

/** The archive's entries are exactly the manifest's, plus manifest.json. */
function checkEntrySet(zip: ZipReader, manifest: Manifest): void {
  const file = zip.file;
  const listed = new Set(manifest.entries.map((entry) => entry.path));
  const extra = [...zip.entries.keys()].filter((name) => name !== MANIFEST_ENTRY && !listed.has(name));
  if (extra.length > 0) {
    const more = extra.length > 1 ? ` (and ${extra.length - 1} more entries)` : '';
    throw new BackupCorruptError(file, extra[0], `is in the archive but not in the manifest${more}`);
  }
  for (const entry of manifest.entries) {
    if (!zip.entries.has(entry.path))
      throw new BackupCorruptError(
        file,
        entry.path,
        'is listed in the manifest but missing from the archive',
      );
  }
}

async function checkEntries(file: string, options: VerifyOptions): Promise<Manifest> {
  const zip = await openZip(file);
  try {
    const manifest = await readManifestFrom(zip, options.signal);
    checkEntrySet(zip, manifest);
    const total = manifest.entries.reduce((sum, entry) => sum + entry.size, 0);
    let done = 0;
    const onBytes = (bytes: number) => {
      done += bytes;
      options.onProgress?.(done, total);
    };
    const check = (entry: ManifestEntry, signal: AbortSignal | undefined) =>
      checkEntry(zip, entry, zip.entries.get(entry.path) as Entry, { ...options, signal }, onBytes);
    // Databases are extracted to disk and integrity-checked, two at a time (the main one is large;
    // the tenants pass beside it); media alongside them, several at once, because for many small
    // files the cost is latency per entry, not bytes. So the integrity_check of one database, the
    // inflating of another and the hashing of media keep both cores busy.
    await inLanes(
      [
        { items: manifest.entries.filter((entry) => entry.kind !== 'media'), lanes: DATABASE_LANES },
        { items: manifest.entries.filter((entry) => entry.kind === 'media'), lanes: MEDIA_LANES },
      ],
      options.signal,
      check,
    );
    return manifest;
  } finally {
    zip.close();
  }
}

async function checkEntry(
  zip: ZipReader,
  expected: ManifestEntry,
  entry: Entry,
  options: VerifyOptions,
  onBytes: (bytes: number) => void,
): Promise<void> {
  checkEntryRecord(zip, expected);
  const failed = (error: unknown, doing: string) => {
    options.signal?.throwIfAborted();
    return unreadableEntry(zip.file, expected.path, error, doing);
  };
  if (expected.kind === 'media') {
    // No stream per entry: a folder of media files costs little time and leaves little garbage.
    const seen = await zip.digest(entry, options.signal, onBytes).catch((error: unknown) => {
      throw failed(error, 'read');
    });
    checkEntryDigest(zip.file, expected, seen);
    return;
  }
  const temp = tempPath(options.tempDir ?? path.dirname(zip.file), `verify-${path.basename(expected.path)}`);
  try {
    const hasher = new HashingStream(onBytes);
    const sink = createWriteStream(temp, { flags: 'wx', highWaterMark: READ_CHUNK });
    try {
      await pipeline(await zip.open(entry, options.signal), hasher, sink, { signal: options.signal });
    } catch (error) {
      throw failed(error, 'extract for checking');
    }
    checkEntryDigest(zip.file, expected, hasher.digest());
    const problem = await integrityProblem(temp, options.signal);
    if (problem) throw new BackupCorruptError(zip.file, expected.path, problem);
  } finally {
    await removeDatabaseFiles(temp);
  }
}

async function readManifestFrom(zip: ZipReader, signal?: AbortSignal): Promise<Manifest> {
  return (await readManifestWithDigest(zip, signal)).manifest;
}

const DATABASE_LANES = 2;
const MEDIA_LANES = 8;

/**
 * Runs `work` over each group's items with at most `lanes` of that group in flight, all groups at
 * once. After the first failure no new item starts; the ones in flight are awaited (so nothing
 * still reads the archive) and the failure is thrown. Each lane gets its own child of `signal`:
 * a check adds listeners to the signal it is given, and ten lanes on one signal would pass
 * Node's limit of ten listeners and print MaxListenersExceededWarning.
 */
async function inLanes<T>(
  groups: ReadonlyArray<{ items: readonly T[]; lanes: number }>,
  signal: AbortSignal | undefined,
  work: (item: T, signal: AbortSignal | undefined) => Promise<void>,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  const lane = async ({ items }: { items: readonly T[] }, next: { index: number }) => {
    const own = signal ? AbortSignal.any([signal]) : undefined;
    while (failure === undefined && next.index < items.length) {
      const item = items[next.index++] as T;
      try {
        await work(item, own);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(
    groups.flatMap((group) => {
      const next = { index: 0 };
      return Array.from({ length: Math.min(group.lanes, group.items.length) }, () => lane(group, next));
    }),
  );
  if (failure) throw failure.error;
}
