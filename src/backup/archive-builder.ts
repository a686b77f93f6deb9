import { readFileSync } from 'node:fs';
import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import type { Logger } from '../telemetry/logger.js';
import { ArchivePipeline } from '../archive/archive-pipeline.js';
import { BackupCorruptError } from '../archive/errors.js';
import { DeflatePool, OUTPUT_CHUNK } from '../archive/deflate-pool.js';
import type { CompressionMethod, ManifestDatabase, ManifestEntry } from '../archive/manifest.js';
import { chooseMethod, MAGIC_BYTES } from '../archive/media-type.js';
import { integrityProblem } from '../archive/sqlite-check.js';
import { databaseFacts } from '../archive/sqlite-facts.js';
import { isoWithOffset } from './naming.js';
import { snapshotDatabase } from './snapshot.js';
import type { DatabaseSource, MediaSource, ResolvedSources } from './sources.js';
import { removeDatabaseFiles, tempPath } from '../util/temp-files.js';
import type { WrittenEntry, ZipWriter } from '../archive/zip-writer.js';

export interface BuildOptions {
  config: BackupConfig;
  /** Where snapshots are made before they are archived (the backup folder: same disk). */
  tempDir: string;
  logger: Logger;
  signal?: AbortSignal;
  /** Called with uncompressed bytes as they are archived. */
  onBytes?: (bytes: number, entry: string) => void;
  /** Where blocks are compressed; default: a pool sized to the machine's cores. */
  pool?: DeflatePool;
}

/** Everything the manifest says about the data entries, plus what the run reports. */
export interface BuiltEntries {
  entries: ManifestEntry[];
  databases: ManifestDatabase[];
  warnings: string[];
  snapshotRestarts: number;
  /** Archive bytes (after compression) per method. */
  bytesByMethod: Record<CompressionMethod, number>;
  /**
   * Every data entry as the writer put it in the file (where its data lies, the CRC-32 of those
   * bytes), each deflated one proven on the pool to inflate back to the bytes hashed: what
   * verifyWrittenArchive reads back after fsync.
   */
  written: WrittenEntry[];
  /** Timing marks, in ms: where the archiving time went (logged with the completed backup). */
  timings: BuildTimings;
}

export interface BuildTimings {
  /** Snapshots taken (the online backup API into temp files), one after another. */
  snapshotMs: number;
  /** `integrity_check` of the snapshots, summed (each on a worker beside its read). */
  checkMs: number;
  /** Thread time spent deflating, summed over the pool's threads. */
  deflateMs: number;
  /** The writer: waiting for entries and compressed blocks, and writing them. */
  waitMs: number;
  writeMs: number;
}

/**
 * Writes every source into `writer`, in order: the main database, the tenants, then the media.
 * Entries go through an ArchivePipeline: blocks of each file are hashed here and compressed on
 * several threads while earlier blocks are written, in order. Each database is snapshotted into a
 * temp file, read into the pipeline and the temp file removed before the next snapshot starts (so
 * the extra disk needed is one database, not all of them; the next snapshot overlaps the
 * compression of the previous one's last blocks). Each snapshot is integrity-checked (on a worker)
 * while the pipeline reads it, so the check overlaps deflating instead of following it; a snapshot
 * that fails throws BackupCorruptError. Media files are read straight from the folder,
 * stored or deflated by type; a file that vanishes between listing and reading is skipped with a
 * warning (the app deleted it). On failure the pipeline is stopped before this throws, so the
 * caller may close and remove the archive at once.
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
    written: [],
    timings: { snapshotMs: 0, checkMs: 0, deflateMs: 0, waitMs: 0, writeMs: 0 },
  };
  const record = (written: WrittenEntry, entry: EntryFacts) => {
    built.entries.push({
      ...entry,
      size: written.size,
      sha256: written.sha256,
      crc32: written.crc32,
      method: written.method,
    });
    built.bytesByMethod[written.method] += written.compressedSize;
    built.written.push(written);
  };
  const pool = options.pool ?? new DeflatePool();
  const deflateBefore = pool.busyMs;
  const pipeline = new ArchivePipeline(writer, {
    pool,
    level: options.config.compression_level,
    checkDeflate: true,
    signal: options.signal,
  });
  try {
    for (const database of sources.databases) {
      await queueDatabase(pipeline, writer.file, database, options, built, record);
    }
    for (const media of sources.media) {
      const queued = await queueMedia(pipeline, media, options, (written) =>
        record(written, { path: media.entry, kind: 'media' }),
      );
      if (!queued) built.warnings.push(`media file ${media.file} vanished before it was read; skipped`);
    }
    await pipeline.finish();
  } catch (error) {
    await pipeline.abandon(error);
    throw error;
  }
  built.timings.deflateMs = pool.busyMs - deflateBefore;
  built.timings.waitMs = pipeline.timings.waitMs;
  built.timings.writeMs = pipeline.timings.writeMs;
  return built;
}

type EntryFacts = Omit<ManifestEntry, 'size' | 'sha256' | 'crc32' | 'method'>;

async function queueDatabase(
  pipeline: ArchivePipeline,
  archive: string,
  source: DatabaseSource,
  options: BuildOptions,
  built: BuiltEntries,
  record: (written: WrittenEntry, entry: EntryFacts) => void,
): Promise<void> {
  const { config, logger } = options;
  const dest = tempPath(options.tempDir, `snapshot-${path.basename(source.file)}`);
  try {
    logger.debug({ source: source.file, entry: source.entry }, 'snapshot started');
    const snapshotStarted = performance.now();
    const snapshot = await snapshotDatabase(source.file, dest, {
      timeoutMs: config.snapshot.timeout,
      maxRestarts: config.snapshot.max_restarts,
      stepPages: config.snapshot.step_pages,
      signal: options.signal,
    });
    const snapshotMs = performance.now() - snapshotStarted;
    built.timings.snapshotMs += snapshotMs;
    built.snapshotRestarts += snapshot.restarts;
    if (snapshot.journalMode !== 'wal') {
      const warning = `${source.file} is in ${snapshot.journalMode} journal mode, not WAL: its writers were blocked while it was copied`;
      built.warnings.push(warning);
      logger.warn(
        { source: source.file, journal_mode: snapshot.journalMode },
        'database is not in WAL mode; its writers waited for the snapshot',
      );
    }
    // Read from the snapshot file itself, so a restore drill compares its copy with what was archived.
    const facts = databaseFacts(dest);
    await removeSidecars(dest);
    built.databases.push({
      entry: source.entry,
      source: source.file,
      journal_mode: snapshot.journalMode,
      page_count: snapshot.pageCount,
      size: snapshot.size,
      snapshot_at: isoWithOffset(snapshot.snapshotAt, config.timezone),
      restarts: snapshot.restarts,
      tables: facts.tables,
      schema: facts.schema,
    });
    const before = await stat(dest);
    const handle = await open(dest, 'r');
    // The check runs beside the read (a worker for large files), on the very file the pipeline
    // hashes into the manifest; both must end before the snapshot is removed.
    const readStarted = performance.now();
    let readMs = 0;
    let checkMs = 0;
    const [read, checked] = await Promise.allSettled([
      pipeline
        .addFile(
          {
            name: source.entry,
            method: 'deflate',
            mtime: snapshot.snapshotAt,
            sizeHint: snapshot.size,
            onBytes: (bytes) => options.onBytes?.(bytes, source.entry),
            onWritten: (written) => {
              record(written, {
                path: source.entry,
                kind: source.kind,
                ...(source.tenant ? { tenant: source.tenant } : {}),
              });
              logger.info(
                { entry: source.entry, bytes: written.size, restarts: snapshot.restarts },
                'database archived',
              );
            },
          },
          handle,
        )
        .finally(() => {
          readMs = performance.now() - readStarted;
        }),
      integrityProblem(dest, options.signal).finally(() => {
        checkMs = performance.now() - readStarted;
      }),
    ]);
    built.timings.checkMs += checkMs;
    logger.debug(
      {
        entry: source.entry,
        snapshot_ms: Math.round(snapshotMs),
        read_ms: Math.round(readMs),
        check_ms: Math.round(checkMs),
      },
      'snapshot read and checked',
    );
    await handle.close();
    if (read.status === 'rejected') throw read.reason;
    if (checked.status === 'rejected') throw checked.reason;
    if (checked.value)
      throw new BackupCorruptError(archive, source.entry, `snapshot of ${source.file} ${checked.value}`);
    // The check opens the snapshot read-write (see integrityProblem); it must not have changed a
    // byte of it, or the bytes checked would not be the bytes archived.
    const after = await stat(dest);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs)
      throw new BackupCorruptError(
        archive,
        source.entry,
        `snapshot of ${source.file} changed while it was checked`,
      );
  } finally {
    await removeDatabaseFiles(dest);
  }
}

/** Removes the -wal and -shm that reading a WAL-mode snapshot leaves (the file itself is kept). */
async function removeSidecars(file: string): Promise<void> {
  await Promise.all(['-wal', '-shm'].map((suffix) => rm(`${file}${suffix}`, { force: true })));
}

/**
 * Files up to this size are read whole, synchronously: a thread-pool round trip per call costs more
 * than such a read. Larger ones go through the pipeline's reused block buffers: a buffer per file
 * would churn through allocations above glibc's mmap threshold (see OUTPUT_CHUNK in deflate-pool.ts).
 */
const SMALL_FILE = OUTPUT_CHUNK;

/** Queues one media file; false when it no longer exists. */
async function queueMedia(
  pipeline: ArchivePipeline,
  media: MediaSource,
  options: BuildOptions,
  onWritten: (written: WrittenEntry) => void,
): Promise<boolean> {
  const entry = {
    name: media.entry,
    mtime: media.mtime,
    sizeHint: media.size,
    onBytes: (bytes: number) => options.onBytes?.(bytes, media.entry),
    onWritten,
  };
  if (media.size <= SMALL_FILE) {
    let data: Buffer;
    try {
      data = readFileSync(media.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    const method = chooseMethod(media.file, data.subarray(0, MAGIC_BYTES));
    await pipeline.addBuffer({ ...entry, method }, data);
    return true;
  }
  let handle: FileHandle;
  try {
    handle = await open(media.file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const head = Buffer.alloc(MAGIC_BYTES);
    const { bytesRead } = await handle.read(head, 0, MAGIC_BYTES, 0);
    const method = chooseMethod(media.file, head.subarray(0, bytesRead));
    await pipeline.addFile({ ...entry, method }, handle);
    return true;
  } finally {
    await handle.close();
  }
}
