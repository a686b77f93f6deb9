import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, wrapError } from '../errors.js';
import {
  copyOwnership,
  exists,
  fsyncDirectory,
  removeStaleTemps,
  SQLITE_SIDECARS,
  sha256OfFile,
  tempNameBeside,
  writeNewFile,
} from './restore-fs.js';
import { pausePoint, type RestoreStep } from './restore-pause.js';
import { checkDatabase, type SafetyCopy, takeSafetyCopy } from './safety-copy.js';

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
  /** What the manifest promises for the entry: SHA-256 (hex) and size in bytes. */
  expected: { sha256: string; size: number };
  /** Replace an existing target; without it an existing target is refused (RW_RESTORE_TARGET_EXISTS). */
  force: boolean;
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
 * Replaces `target` with the database in an archive entry so that a crash at any moment leaves
 * either the old database or the new one, never a mix:
 * 1. the entry is streamed into a temp file beside the target, hashed as written, fsynced, hashed
 *    again from disk and integrity-checked; any mismatch refuses with nothing of the target touched;
 * 2. the current database is checkpointed and snapshotted to `<db>.pre-restore-<timestamp>`;
 * 3. its now-empty -wal/-shm (and any -journal) are removed, so no stale log is replayed onto the
 *    new file; the temp file takes the old one's mode (and owner, as root) and is renamed over the
 *    target; the folder is fsynced.
 * Errors carry codes: RW_RESTORE_TARGET_EXISTS, RW_RESTORE_CHECKSUM, RW_RESTORE_INTEGRITY,
 * RW_RESTORE_DB_BUSY, RW_RESTORE_SAFETY_COPY, RW_RESTORE_IO. The app should be stopped first.
 */
export async function restoreDatabase(request: DatabaseRestoreRequest): Promise<DatabaseRestoreResult> {
  const { target, signal } = request;
  const progress = request.onProgress ?? (() => {});
  const old = await assertDatabaseTargetReplaceable(target, request.force);
  await mkdir(path.dirname(target), { recursive: true });
  const stale = await removeStaleTemps(target);
  if (stale.length > 0) progress({ kind: 'step', step: 'cleaned-stale-temps', detail: stale.join(', ') });

  const temp = tempNameBeside(target);
  let safetyCopy: SafetyCopy | undefined;
  try {
    const entry = await request.openEntry(signal);
    const written = await writeNewFile(entry, temp, {
      mode: old ? old.mode & 0o7777 : 0o644,
      signal,
      onBytes: (done) => progress({ kind: 'bytes', done, total: request.expected.size }),
    });
    checkWritten(target, written, request.expected, 'as written');
    const onDisk = await sha256OfFile(temp, signal);
    checkWritten(target, { sha256: onDisk, bytes: written.bytes }, request.expected, 'read back from disk');
    await step('temp-written');

    checkDatabase(temp);
    await removeSidecars(temp); // a read-only check of a WAL-mode file leaves empty ones behind
    await step('temp-checked');

    if (old) {
      safetyCopy = await takeSafetyCopy(target, request.now);
      request.onSafetyCopy?.(safetyCopy);
      await step('safety-copied', safetyCopy.file);
    }
    signal.throwIfAborted();
    // From here on the steps are short and must not be abandoned half-way by an abort.
    const removedSidecars = await removeSidecars(target);
    await step('sidecars-removed');
    if (old) {
      await chmod(temp, old.mode & 0o7777);
      await copyOwnership(temp, old);
    }
    await rename(temp, target);
    await step('renamed');
    await fsyncDirectory(path.dirname(target));
    return { target, safetyCopy, bytes: written.bytes, sha256: written.sha256, removedSidecars };
  } catch (error) {
    await rm(temp, { force: true });
    await removeSidecars(temp).catch(() => []);
    if (error instanceof FatalError || signal.aborted) throw error;
    throw wrapError(`restore ${target}`, error, 'RW_RESTORE_IO');
  }

  async function step(name: RestoreStep, detail?: string): Promise<void> {
    progress(detail === undefined ? { kind: 'step', step: name } : { kind: 'step', step: name, detail });
    await pausePoint(name);
  }
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

function checkWritten(
  target: string,
  actual: { sha256: string; bytes: number },
  expected: { sha256: string; size: number },
  how: string,
): void {
  if (actual.bytes !== expected.size || actual.sha256 !== expected.sha256) {
    throw new FatalError(
      'RW_RESTORE_CHECKSUM',
      `restore of ${target} refused: the entry ${how} has ${actual.bytes} bytes with SHA-256 ${actual.sha256}, ` +
        `the manifest says ${expected.size} bytes with ${expected.sha256}; the archive is corrupt or was tampered with. ` +
        'Nothing was changed.',
    );
  }
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
