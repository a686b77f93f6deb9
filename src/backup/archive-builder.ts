import { createReadStream, readFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import type { Logger } from '../telemetry/logger.js';
import { READ_CHUNK } from './hashing.js';
import type { CompressionMethod, ManifestDatabase, ManifestEntry } from './manifest.js';
import { chooseMethod, MAGIC_BYTES } from './media-type.js';
import { isoWithOffset } from './naming.js';
import { snapshotDatabase } from './snapshot.js';
import type { DatabaseSource, MediaSource, ResolvedSources } from './sources.js';
import { removeDatabaseFiles, tempPath } from './temp-files.js';
import type { WrittenEntry, ZipWriter } from './zip-writer.js';

export interface BuildOptions {
  config: BackupConfig;
  /** Where snapshots are made before they are archived (the backup folder: same disk). */
  tempDir: string;
  logger: Logger;
  signal?: AbortSignal;
  /** Called with uncompressed bytes as they are archived. */
  onBytes?: (bytes: number, entry: string) => void;
}

/** Everything the manifest says about the data entries, plus what the run reports. */
export interface BuiltEntries {
  entries: ManifestEntry[];
  databases: ManifestDatabase[];
  warnings: string[];
  snapshotRestarts: number;
  /** Archive bytes (after compression) per method. */
  bytesByMethod: Record<CompressionMethod, number>;
}

/**
 * Writes every source into `writer`, in order: the main database, the tenants, then the media.
 * Each database is snapshotted into a temp file, archived (deflate) and the temp file removed
 * before the next, so the extra disk needed is one database, not all of them. Media files are
 * streamed straight from the folder, stored or deflated by type; a file that vanishes between
 * listing and reading is skipped with a warning (the app deleted it).
 */
export async function writeEntries(
  writer: ZipWriter,
  sources: ResolvedSources,
  options: BuildOptions,
): Promise<BuiltEntries> {
  const built: BuiltEntries = {
    entries: [],
    databases: [],
    warnings: [...sources.warnings],
    snapshotRestarts: 0,
    bytesByMethod: { deflate: 0, store: 0 },
  };
  const record = (
    written: WrittenEntry,
    entry: Omit<ManifestEntry, 'size' | 'sha256' | 'crc32' | 'method'>,
  ) => {
    built.entries.push({
      ...entry,
      size: written.size,
      sha256: written.sha256,
      crc32: written.crc32,
      method: written.method,
    });
    built.bytesByMethod[written.method] += written.compressedSize;
  };
  for (const database of sources.databases) {
    await writeDatabase(writer, database, options, built, record);
  }
  for (const media of sources.media) {
    const written = await writeMedia(writer, media, options);
    if (written) record(written, { path: media.entry, kind: 'media' });
    else built.warnings.push(`media file ${media.file} vanished before it was read; skipped`);
  }
  return built;
}

async function writeDatabase(
  writer: ZipWriter,
  source: DatabaseSource,
  options: BuildOptions,
  built: BuiltEntries,
  record: (written: WrittenEntry, entry: Omit<ManifestEntry, 'size' | 'sha256' | 'crc32' | 'method'>) => void,
): Promise<void> {
  const { config, logger } = options;
  const dest = tempPath(options.tempDir, `snapshot-${path.basename(source.file)}`);
  try {
    logger.debug({ source: source.file, entry: source.entry }, 'snapshot started');
    const snapshot = await snapshotDatabase(source.file, dest, {
      timeoutMs: config.snapshot.timeout,
      maxRestarts: config.snapshot.max_restarts,
      stepPages: config.snapshot.step_pages,
      signal: options.signal,
    });
    built.snapshotRestarts += snapshot.restarts;
    if (snapshot.journalMode !== 'wal') {
      const warning = `${source.file} is in ${snapshot.journalMode} journal mode, not WAL: its writers were blocked while it was copied`;
      built.warnings.push(warning);
      logger.warn(
        { source: source.file, journal_mode: snapshot.journalMode },
        'database is not in WAL mode; its writers waited for the snapshot',
      );
    }
    const written = await writer.add(source.entry, createReadStream(dest, { highWaterMark: READ_CHUNK }), {
      method: 'deflate',
      level: config.compression_level,
      mtime: snapshot.snapshotAt,
      sizeHint: snapshot.size,
      signal: options.signal,
      onBytes: (bytes) => options.onBytes?.(bytes, source.entry),
    });
    record(written, {
      path: source.entry,
      kind: source.kind,
      ...(source.tenant ? { tenant: source.tenant } : {}),
    });
    built.databases.push({
      entry: source.entry,
      source: source.file,
      journal_mode: snapshot.journalMode,
      page_count: snapshot.pageCount,
      size: snapshot.size,
      snapshot_at: isoWithOffset(snapshot.snapshotAt, config.timezone),
      restarts: snapshot.restarts,
    });
    logger.info(
      { entry: source.entry, bytes: written.size, restarts: snapshot.restarts },
      'database archived',
    );
  } finally {
    await removeDatabaseFiles(dest);
  }
}

/** Files up to this size are read into memory whole (bounded, so memory stays flat). */
const SMALL_FILE = 1024 * 1024;

/** Archives one media file; undefined when it no longer exists. */
async function writeMedia(
  writer: ZipWriter,
  media: MediaSource,
  options: BuildOptions,
): Promise<WrittenEntry | undefined> {
  const common = {
    level: options.config.compression_level,
    mtime: media.mtime,
    onBytes: (bytes: number) => options.onBytes?.(bytes, media.entry),
  };
  if (media.size <= SMALL_FILE) {
    // Small files are read whole, synchronously (tens of microseconds; a thread-pool round trip per
    // call costs more than the read), and written with their neighbours in one write.
    let data: Buffer;
    try {
      data = readFileSync(media.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return await writer.addBuffer(media.entry, data, {
      ...common,
      method: chooseMethod(media.file, data.subarray(0, MAGIC_BYTES)),
    });
  }
  let handle: FileHandle;
  try {
    handle = await open(media.file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let stream: ReturnType<FileHandle['createReadStream']> | undefined;
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const { bytesRead } = await handle.read(head, 0, MAGIC_BYTES, 0);
    const method = chooseMethod(media.file, head.subarray(0, bytesRead));
    // The stream owns the handle from here and closes it when it ends or fails.
    stream = handle.createReadStream({ start: 0, highWaterMark: READ_CHUNK });
    return await writer.add(media.entry, stream, {
      ...common,
      method,
      sizeHint: media.size,
      signal: options.signal,
    });
  } finally {
    if (!stream) await handle.close();
  }
}
