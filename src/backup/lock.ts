import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquirePidLock, LockHeldError, type PidLock } from '../lock/pid-lock.js';

/** The one lock file of backups, in the backup folder, shared by the daemon and every CLI run. */
export const BACKUP_LOCK_FILE = '.runwarden-backup.lock';

const POLL_MS = 200;

export interface BackupLockOptions {
  /** How long to wait for a running backup to finish, in ms; 0 fails at once. */
  waitMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is held by another process and we start waiting. */
  onWait?: (holderPid: number) => void;
}

/**
 * Takes the backup lock of `dir` (creating the folder), waiting up to `waitMs` while another
 * process holds it; a lock left by a dead process is taken over. Throws LockHeldError (code
 * RW_LOCK_HELD, naming the holder's pid) when the wait runs out, or the signal's reason. Not
 * reentrant: a second acquire in the same process waits like any other.
 */
export async function acquireBackupLock(dir: string, options: BackupLockOptions): Promise<PidLock> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, BACKUP_LOCK_FILE);
  const deadline = Date.now() + options.waitMs;
  let waiting = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return acquirePidLock(file, 'a backup');
    } catch (error) {
      if (!(error instanceof LockHeldError) || Date.now() >= deadline) throw error;
      if (!waiting) {
        waiting = true;
        options.onWait?.(error.holderPid);
      }
    }
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())), undefined, { signal: options.signal });
  }
}
