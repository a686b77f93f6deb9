import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  acquirePidLock,
  LockHeldError,
  notWritable,
  type PidLock,
  type PidLockOptions,
} from '../lock/pid-lock.js';
import { sleep } from '../util/sleep.js';

/** The one lock file of backups, in the backup folder, shared by the daemon and every CLI run. */
export const BACKUP_LOCK_FILE = '.runwarden-backup.lock';

const POLL_MS = 200;

export interface BackupLockOptions {
  /** How long to wait for a running backup to finish, in ms; 0 fails at once. */
  waitMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is held by another process and we start waiting. */
  onWait?: (holderPid: number) => void;
  /** Told when a lock left by a killed run is taken over. */
  logger?: PidLockOptions['logger'];
}

/**
 * Takes the backup lock of `dir` (creating the folder), waiting up to `waitMs` while another
 * process holds it; a lock left by a dead process of this host, or one that cannot be read, is
 * taken over. Throws LockHeldError (code RW_LOCK_HELD, naming the holder's pid) when the wait runs
 * out, RW_DIR_NOT_WRITABLE (`backup.dir <dir> is not writable by uid N`), RW_LOCK_IO (a full disk:
 * ENOSPC in the cause; no lock file is left), or the signal's reason. Not reentrant: a second
 * acquire in the same process waits like any other.
 */
export async function acquireBackupLock(dir: string, options: BackupLockOptions): Promise<PidLock> {
  await mkdir(dir, { recursive: true }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw notWritable('backup.dir', dir, error);
    throw error;
  });
  const file = path.join(dir, BACKUP_LOCK_FILE);
  const deadline = Date.now() + options.waitMs;
  let waiting = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return acquirePidLock(file, 'a backup', { folderName: 'backup.dir', logger: options.logger });
    } catch (error) {
      if (!(error instanceof LockHeldError) || Date.now() >= deadline) throw error;
      if (!waiting) {
        waiting = true;
        options.onWait?.(error.holderPid);
      }
    }
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())), options.signal);
  }
}
