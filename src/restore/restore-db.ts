import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import type { ManifestEntry } from '../archive/manifest.js';
import { checkEntryDigest, unreadableEntry } from '../archive/entry-check.js';
import {
  copyOwnership,
  exists,
  fsyncDirectory,
  removeStaleTemps,
  SQLITE_SIDECARS,
  tempNameBeside,
  type WrittenFile,
  writeNewFile,
} from '../util/durable-fs.js';
import { pausePoint, type RestoreStep } from './restore-pause.js';
import { type SafetyCopy, takeSafetyCopy } from './safety-copy.js';
import { type IntegrityCheck, integrityProblem } from '../archive/sqlite-check.js';
import { crc32File } from '../util/file-hash.js';

/** Progress of one restore, for a progress bar or log lines. */
export type RestoreProgress =
  | { kind: 'step'; step: RestoreStep | 'cleaned-stale-temps'; detail?: string }
  | { kind: 'bytes'; done: number; total: number };

/** One database to put back from an archive entry. */
export interface DatabaseRestoreRequest {
  /** The database file to replace (or create). */
  target: string;
  /** Opens the entry's uncompressed bytes; called once. */
  openEntry(signal: AbortSignal): Promise<AsyncIterable<Buffer | Uint8Array>>;
  /**
   * The archive and the (authenticated) manifest entry the bytes must match: size, CRC-32 and
   * SHA-256, checked as they are written (BackupCorruptError, RW_BACKUP_CORRUPT, when they differ).
   */
  source: { archive: string; entry: ManifestEntry };
  /** Replace an existing target; without it an existing target is refused (RW_RESTORE_TARGET_EXISTS). */
  force: boolean;
  /**
   * The SQLite check run on the written file: `integrity_check` (default), or `quick_check` when
   * the entry's bytes are proven to be ones that passed integrity_check (SourceArchive.integrityChecked).
   */
  check?: IntegrityCheck;
  /** Names the safety copy (`<db>.pre-restore-<UTC timestamp>`). */
  now: Date;
  signal: AbortSignal;
  /** Called as soon as the safety copy exists, before the target is touched (to record it). */
  onSafetyCopy?(copy: SafetyCopy): void;
  onProgress?(progress: RestoreProgress): void;
}

export interface DatabaseRestoreResult {
  target: string;
  /** Undefined when there was no database at the target to keep. */
  safetyCopy: SafetyCopy | undefined;
  bytes: number;
  sha256: string;
  /** Stale -wal, -shm or -journal files removed from beside the target. */
  removedSidecars: string[];
}

/**
 * A database entry written and checked beside its target, not yet in place. Either commit it
 * (commitDatabase) or discard it; until then the target is untouched.
 */
export interface PreparedDatabase {
  target: string;
  /** The temp file beside the target holding the checked database. */
  temp: string;
  written: WrittenFile;
  /** Removes the temp file (and any sidecar of it); safe to call more than once. */
  discard(): Promise<void>;
}

/**
 * Replaces `target` with the database in an archive entry: prepareDatabase, then commitDatabase
 * (see both). A crash at any moment leaves either the old database or the new one, never a mix.
 */
export async function restoreDatabase(request: DatabaseRestoreRequest): Promise<DatabaseRestoreResult> {
  const prepared = await prepareDatabase(request);
  return commitDatabase(prepared, request);
}

/**
 * Step 1 of a database restore, which also verifies the entry: streams it into a temp file beside
 * the target (the archive is read once), checking its size, CRC-32 and SHA-256 against the manifest
 * entry as it passes, fsyncs it, then reads it back from disk for its CRC-32 (the bytes written
 * were hashed as they passed; what is caught here is a write gone astray, for which CRC-32 suffices
 * at a third of SHA-256's cost) while SQLite runs `integrity_check` (or `quick_check`, see
 * `check`) on it (on a worker thread for a large file). Any mismatch refuses with the temp
 * file removed and nothing of the target touched: BackupCorruptError (RW_BACKUP_CORRUPT) for
 * bytes that differ from the manifest, RW_RESTORE_CHECKSUM when the disk gives back other bytes
 * than were written, RW_RESTORE_INTEGRITY, RW_RESTORE_TARGET_EXISTS, RW_RESTORE_IO.
 */
export async function prepareDatabase(
  request: Pick<
    DatabaseRestoreRequest,
    'target' | 'openEntry' | 'source' | 'force' | 'signal' | 'onProgress' | 'check'
  >,
): Promise<PreparedDatabase> {
  const { target, signal, source } = request;
  const progress = request.onProgress ?? (() => {});
  const old = await assertDatabaseTargetReplaceable(target, request.force);
  await mkdir(path.dirname(target), { recursive: true });
  const stale = await removeStaleTemps(target);
  if (stale.length > 0) progress({ kind: 'step', step: 'cleaned-stale-temps', detail: stale.join(', ') });

  const temp = tempNameBeside(target);
  const discard = async () => {
    await rm(temp, { force: true });
    await removeSidecars(temp).catch(() => []);
  };
  try {
    const entry = await request.openEntry(signal);
    const written = await writeNewFile(entry, temp, {
      mode: old ? old.mode & 0o7777 : 0o644,
      signal,
      onBytes: (done) => progress({ kind: 'bytes', done, total: source.entry.size }),
      sourceError: (error) => unreadableEntry(source.archive, source.entry.path, error),
    });
    checkEntryDigest(source.archive, source.entry, { ...written, size: written.bytes });
    await step('temp-written', progress);

    // Both only read the file: the CRC re-reads what was written, SQLite walks its b-trees.
    const [onDisk, integrity] = await Promise.allSettled([
      crc32File(temp, { signal }),
      integrityProblem(temp, signal, request.check),
    ]);
    if (onDisk.status === 'rejected') throw onDisk.reason;
    if (onDisk.value !== written.crc32) {
      throw new FatalError(
        'RW_RESTORE_CHECKSUM',
        `restore of ${target} refused: the entry read back from disk has CRC-32 ${onDisk.value}, ` +
          `${written.crc32} was written; the disk did not keep the bytes. Nothing was changed.`,
      );
    }
    if (integrity.status === 'rejected') throw integrity.reason;
    if (integrity.value !== undefined)
      throw new FatalError(
        'RW_RESTORE_INTEGRITY',
        `restore of ${target} refused: the database in entry ${source.entry.path} ${integrity.value}. Nothing was changed.`,
      );
    await removeSidecars(temp); // the check of a WAL-mode file leaves empty ones behind
    await step('temp-checked', progress);
    return { target, temp, written, discard };
  } catch (error) {
    await discard();
    if (error instanceof FatalError || signal.aborted) throw error;
    throw wrapError(`restore ${target}`, error, 'RW_RESTORE_IO');
  }
}

/**
 * Step 2: puts a prepared database in place. The target is checked again (it may have appeared
 * while a pre-restore backup ran); then the current database is checkpointed and snapshotted to
 * `<db>.pre-restore-<timestamp>`; its now-empty -wal/-shm (and any -journal) are removed, so no
 * stale log is replayed onto the new file; the temp file takes the old one's mode (and owner, as
 * root) and is renamed over the target; the folder is fsynced. On failure the temp file is
 * removed. Errors: RW_RESTORE_TARGET_EXISTS, RW_RESTORE_DB_BUSY, RW_RESTORE_SAFETY_COPY,
 * RW_RESTORE_IO. The app should be stopped first.
 */
export async function commitDatabase(
  prepared: PreparedDatabase,
  request: Pick<DatabaseRestoreRequest, 'force' | 'now' | 'signal' | 'onSafetyCopy' | 'onProgress'>,
): Promise<DatabaseRestoreResult> {
  const { target, temp, written } = prepared;
  const { signal } = request;
  const progress = request.onProgress ?? (() => {});
  let safetyCopy: SafetyCopy | undefined;
  try {
    const old = await assertDatabaseTargetReplaceable(target, request.force);
    if (old) {
      safetyCopy = await takeSafetyCopy(target, request.now);
      request.onSafetyCopy?.(safetyCopy);
      await step('safety-copied', progress, safetyCopy.file);
    }
    signal.throwIfAborted();
    // From here on the steps are short and must not be abandoned half-way by an abort.
    const removedSidecars = await removeSidecars(target);
    await step('sidecars-removed', progress);
    if (old) {
      await chmod(temp, old.mode & 0o7777);
      await copyOwnership(temp, old);
    }
    await rename(temp, target);
    await step('renamed', progress);
    await fsyncDirectory(path.dirname(target));
    return { target, safetyCopy, bytes: written.bytes, sha256: written.sha256, removedSidecars };
  } catch (error) {
    await prepared.discard();
    if (error instanceof FatalError || signal.aborted) throw error;
    throw wrapError(`restore ${target}`, error, 'RW_RESTORE_IO');
  }
}

async function step(
  name: RestoreStep,
  progress: (progress: RestoreProgress) => void,
  detail?: string,
): Promise<void> {
  progress(detail === undefined ? { kind: 'step', step: name } : { kind: 'step', step: name, detail });
  await pausePoint(name);
}

/**
 * The current target's stats, or undefined when there is none. Throws RW_RESTORE_TARGET_EXISTS when
 * it exists and `force` is false, or when it is not a regular file.
 */
export async function assertDatabaseTargetReplaceable(target: string, force: boolean) {
  const old = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw wrapError(`inspect restore target ${target}`, error, 'RW_RESTORE_IO');
  });
  if (old && !old.isFile()) {
    throw new FatalError('RW_RESTORE_TARGET_EXISTS', `restore target ${target} exists and is not a file`);
  }
  if (old && !force) {
    throw new FatalError(
      'RW_RESTORE_TARGET_EXISTS',
      `restore target ${target} already exists; pass --force to replace it (a safety copy is taken first)`,
    );
  }
  return old;
}

/** Removes `<file>-wal`, `-shm` and `-journal`; returns the ones that existed. */
async function removeSidecars(file: string): Promise<string[]> {
  const removed: string[] = [];
  for (const suffix of SQLITE_SIDECARS) {
    if (!(await exists(`${file}${suffix}`))) continue;
    await rm(`${file}${suffix}`, { force: true });
    removed.push(`${file}${suffix}`);
  }
  return removed;
}
