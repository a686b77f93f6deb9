import { createHash } from 'node:crypto';
import { access, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { BackupConfig } from '../config/schema/backup.js';
import type { BackupRequest } from '../core/backup-request.js';
import { errorMessage, RunwardenError, wrapError } from '../core/errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { PidLock } from '../lock/pid-lock.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import type { Logger } from '../telemetry/logger.js';
import { sleep } from '../util/sleep.js';
import { VERSION } from '../version.js';
import { writeEntries } from './archive-builder.js';
import { BackupDiskFullError } from '../archive/errors.js';
import { acquireBackupLock } from './lock.js';
import { fsyncDirectory } from '../util/durable-fs.js';
import { MANIFEST_ENTRY, MANIFEST_FORMAT_VERSION, type Manifest } from '../archive/manifest.js';
import { archiveName, isoWithOffset } from './naming.js';
import { resolveSources } from './sources.js';
import { PARTIAL_SUFFIX, removeStaleTemps } from '../util/temp-files.js';
import { verifyWrittenArchive } from '../archive/verify.js';
import { ZipWriter } from '../archive/zip-writer.js';

/** Progress of a run: uncompressed bytes archived, then bytes verified. Totals are estimates. */
export interface BackupProgress {
  phase: 'archive' | 'verify';
  done: number;
  total: number;
  entry?: string;
}

export interface BackupDeps {
  config: BackupConfig;
  catalog: BackupsRepo;
  events: EventBus;
  logger: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /** The Cloud Run revision this runwarden runs in, recorded in the manifest. */
  revision?: string;
}

/** A finished, verified, cataloged backup. */
export interface BackupResult {
  file: string;
  size: number;
  sha256: string;
  manifest: Manifest;
  record: BackupRecord;
  warnings: string[];
  durationMs: number;
}

/**
 * One backup run: lock -> remove stale partials -> resolve sources -> snapshot and stream every
 * entry into `<name>.zip.partial` (created exclusively) -> manifest -> fsync -> verify the written
 * file -> rename to `<name>.zip` -> fsync the folder -> catalog row. Emits backup:started and then
 * backup:completed or backup:failed. On any failure the partial file and temp files are removed,
 * no older archive is touched, and the error is thrown: BackupSourceMissingError,
 * BackupDiskFullError (ENOSPC), LockHeldError (another backup ran past lock_wait),
 * SnapshotBoundError, BackupCorruptError (the written archive failed verification), or the
 * signal's reason.
 */
export async function runBackup(request: BackupRequest, deps: BackupDeps): Promise<BackupResult> {
  const { config, events, logger } = deps;
  const started = Date.now();
  let snapshotRestarts = 0;
  let lock: PidLock | undefined;
  let writer: ZipWriter | undefined;
  events.emit('backup:started', { ...request });
  try {
    lock = await acquireBackupLock(config.dir, {
      waitMs: config.lock_wait,
      signal: deps.signal,
      logger,
      onWait: (pid) =>
        logger.info({ holder_pid: pid, wait_ms: config.lock_wait }, 'another backup is running; waiting'),
    });
    const removed = await removeStaleTemps(config.dir, true);
    if (removed.length > 0) logger.warn({ removed }, 'removed files left by an interrupted backup');
    const sources = await resolveSources(config.sources);
    for (const warning of sources.warnings) logger.warn({ warning }, 'backup source warning');

    const startedAt = new Date();
    const { file, partial, zip } = await createArchive(config, startedAt, deps.signal);
    writer = zip;
    logger.info({ file: partial, reason: request.reason, trigger: request.trigger }, 'backup started');
    const total = [...sources.databases, ...sources.media].reduce((sum, source) => sum + source.size, 0);
    let done = 0;
    const archiveStarted = Date.now();
    const built = await writeEntries(zip, sources, {
      config,
      tempDir: config.dir,
      logger,
      signal: deps.signal,
      onBytes: (bytes, entry) => {
        done += bytes;
        deps.onProgress?.({ phase: 'archive', done, total: Math.max(total, done), entry });
      },
    });
    snapshotRestarts = built.snapshotRestarts;
    const manifest: Manifest = {
      format_version: MANIFEST_FORMAT_VERSION,
      runwarden_version: VERSION,
      host: hostname(),
      reason: request.reason,
      trigger: request.trigger,
      ...(deps.revision ? { revision: deps.revision } : {}),
      started_at: isoWithOffset(startedAt, config.timezone),
      finished_at: isoWithOffset(new Date(), config.timezone),
      databases: built.databases,
      entries: built.entries,
      ...(built.warnings.length > 0 ? { warnings: built.warnings } : {}),
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    await zip.add(MANIFEST_ENTRY, Readable.from([manifestBytes]), {
      method: 'deflate',
      sizeHint: manifestBytes.length,
      signal: deps.signal,
    });
    const finishStarted = Date.now();
    await zip.finish();
    const verifyStarted = Date.now();

    logger.info({ file: partial }, 'verifying archive');
    deps.onProgress?.({ phase: 'verify', done: 0, total: zip.size });
    // Every entry came through the pipeline, which proved each compressed block inflates to the
    // bytes hashed and integrity-checked each snapshot: reading the written bytes back (their CRC-32
    // against the writer's, the directory and manifest against the entries) proves the archive
    // without inflating it again.
    const verified = await verifyWrittenArchive(partial, built.written, {
      signal: deps.signal,
      onProgress: (checked, all) => deps.onProgress?.({ phase: 'verify', done: checked, total: all }),
    });
    const verifyMs = Date.now() - verifyStarted;
    await rename(partial, file);
    await fsyncDirectory(config.dir);
    const finishedAt = new Date();
    const record = deps.catalog.record({
      file,
      size: verified.size,
      sha256: verified.sha256,
      reason: request.reason,
      trigger: request.trigger,
      startedAt,
      finishedAt,
      entries: manifest.entries.length,
      verifiedAt: finishedAt,
      // Lets a restore trust this manifest without hashing the whole archive again.
      manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
    });
    const durationMs = Date.now() - started;
    events.emit('backup:completed', {
      file,
      size: verified.size,
      sha256: verified.sha256,
      ...request,
      entries: manifest.entries.length,
      durationMs,
      snapshotRestarts,
      bytesByMethod: built.bytesByMethod,
      finishedAt: finishedAt.getTime(),
      warnings: built.warnings,
    });
    logger.info(
      {
        file,
        size: verified.size,
        entries: manifest.entries.length,
        duration_ms: durationMs,
        // Where the time went: snapshots and entries, the central directory and fsync, verification.
        archive_ms: finishStarted - archiveStarted,
        finish_ms: verifyStarted - finishStarted,
        verify_ms: verifyMs,
        ...Object.fromEntries(
          Object.entries(built.timings).map(([key, ms]) => [key.replace(/Ms$/, '_ms'), Math.round(ms)]),
        ),
      },
      'backup completed',
    );
    return {
      file,
      size: verified.size,
      sha256: verified.sha256,
      manifest,
      record,
      warnings: built.warnings,
      durationMs,
    };
  } catch (error) {
    const failure = await cleanUpAfterFailure(error, writer, config.dir, deps.signal);
    events.emit('backup:failed', {
      ...request,
      code: failure instanceof RunwardenError ? failure.code : 'RW_FAILED',
      error: errorMessage(failure),
      durationMs: Date.now() - started,
      snapshotRestarts,
    });
    logger.error({ err: errorMessage(failure), code: (failure as RunwardenError).code }, 'backup failed');
    throw failure;
  } finally {
    lock?.release();
  }
}

/**
 * Creates `<dir>/<name>.zip.partial` exclusively. Names have one-second resolution: when the
 * previous run (we hold the lock, so it finished) already took this second's name, wait for the
 * next second rather than overwrite or rename.
 */
async function createArchive(config: BackupConfig, startedAt: Date, signal: AbortSignal | undefined) {
  for (let attempt = 0; ; attempt++) {
    const name = archiveName(config.prefix, attempt === 0 ? startedAt : new Date(), config.timezone);
    const file = path.join(config.dir, name);
    const taken = await access(file).then(
      () => true,
      () => false,
    );
    if (!taken) {
      const partial = `${file}${PARTIAL_SUFFIX}`;
      return { file, partial, zip: await ZipWriter.create(partial) };
    }
    if (attempt >= 3)
      throw wrapError(`name a new archive in ${config.dir}`, new Error(`${name} exists`), 'RW_BACKUP_NAME');
    await sleep(1000 - (Date.now() % 1000) + 5, signal);
  }
}

/** Closes and removes the partial archive and maps a full disk to BackupDiskFullError. */
async function cleanUpAfterFailure(
  error: unknown,
  writer: ZipWriter | undefined,
  dir: string,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  // Snapshot and verification temp files were removed by their own finally blocks.
  if (writer) {
    await writer.close().catch(() => undefined);
    await rm(writer.file, { force: true });
  }
  if (signal?.aborted) return signal.reason;
  if (isDiskFull(error)) {
    const doing = writer ? `writing ${path.basename(writer.file)}` : 'starting a backup';
    return new BackupDiskFullError(dir, `${doing} (${errorMessage(error)})`, { cause: error });
  }
  return error instanceof RunwardenError ? error : wrapError('back up', error, 'RW_BACKUP_FAILED');
}

function isDiskFull(error: unknown): boolean {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  }
  return false;
}
