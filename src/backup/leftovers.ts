import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import { errorMessage } from '../core/errors.js';
import { LockHeldError, type PidLock } from '../lock/pid-lock.js';
import type { Logger } from '../telemetry/logger.js';
import { acquireBackupLock } from './lock.js';
import { staleRestoreFiles } from '../util/durable-fs.js';
import { removeStaleTemps } from '../util/temp-files.js';

/**
 * What killed runs left behind, removed when the daemon starts rather than at the next backup or
 * restore (a killed backup's partial archive is about the size of a backup):
 * - in backup.dir: `.zip.partial` files and the temp files of snapshots and verifications;
 * - beside each configured database: a restore's temp files and its `.pre-restore-*` safety copy
 *   that was being written (`<copy>.<writer>.partial`).
 * Only files whose writer is gone are removed: temp and safety-copy names carry their writer
 * process (pid, start, host), and a `.zip.partial` is only written by the backup lock's holder, so
 * they are removed only while this holds that lock (a CLI backup running now keeps its files).
 * Paths in `keep` are never removed: the staged files and folders a restore journal still names
 * (a restore of several targets stopped mid-swap that could not be finished or undone yet).
 * Never throws: a folder that cannot be read or written is logged and skipped. Returns the paths
 * removed.
 */
export async function removeLeftovers(
  config: BackupConfig,
  logger: Logger,
  options: { keep?: readonly string[] } = {},
): Promise<string[]> {
  const keep = new Set(options.keep ?? []);
  const removed: string[] = [];
  const lock = await backupLockIfFree(config, logger);
  try {
    if (lock || (await isDirectory(config.dir))) {
      const names = await removeStaleTemps(config.dir, lock !== undefined);
      removed.push(...names.map((name) => path.join(config.dir, name)));
    }
  } catch (error) {
    logger.warn({ dir: config.dir, err: errorMessage(error) }, 'could not clean up backup.dir');
  }
  try {
    for (const dir of await databaseFolders(config))
      removed.push(...(await removeRestoreLeftovers(dir, keep)));
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'could not clean up beside the configured databases');
  } finally {
    lock?.release();
  }
  if (removed.length > 0) logger.warn({ removed }, 'removed files left by killed backups and restores');
  return removed;
}

/** The backup lock when nobody holds it (no waiting: a running backup keeps its files). */
async function backupLockIfFree(config: BackupConfig, logger: Logger): Promise<PidLock | undefined> {
  if (!(await isDirectory(config.dir))) return undefined;
  try {
    return await acquireBackupLock(config.dir, { waitMs: 0, logger });
  } catch (error) {
    if (error instanceof LockHeldError)
      logger.info(
        { holder_pid: error.holderPid },
        'a backup is running: its partial archive is left to it; the next backup cleans up after it',
      );
    else logger.warn({ dir: config.dir, err: errorMessage(error) }, 'could not take the backup lock');
    return undefined;
  }
}

async function removeRestoreLeftovers(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of staleRestoreFiles(names)) {
    const file = path.join(dir, name);
    if (keep.has(file)) continue;
    // Recursive: a restore of everything stages the media folder whole beside it.
    await rm(file, { force: true, recursive: true });
    removed.push(file);
  }
  return removed;
}

/**
 * The folders of the main database and of every tenant database the sources name now, and the
 * media folder's parent (where a restore of everything stages the media folder).
 */
async function databaseFolders(config: BackupConfig): Promise<string[]> {
  const folders = [path.dirname(config.sources.main_db.path), path.dirname(config.sources.media.dir)];
  const segments = config.sources.tenants.pattern.split('/');
  const at = segments.findIndex((segment) => segment.includes('{tenant}'));
  const parent = segments.slice(0, at).join('/') || '/';
  if (at === segments.length - 1) folders.push(parent);
  else {
    // `{tenant}` names a folder: each tenant's database sits in its own.
    const [before, after] = (segments[at] as string).split('{tenant}') as [string, string];
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      if (!name.startsWith(before) || !name.endsWith(after)) continue;
      folders.push(path.dirname(path.join(parent, name, ...segments.slice(at + 1))));
    }
  }
  return [...new Set(folders)];
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}
