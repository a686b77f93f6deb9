import type { App } from '../app/app.js';
import type { PidLock } from '../lock/pid-lock.js';
import type { restoreProgress } from './restore-progress.js';

/**
 * The two steps every restore command hands its use-case: the full pre-restore backup (its
 * progress on the restore's bar) and the backup lock. One definition, so `restore`, `restore --all`
 * and `emergency` take the same backup and wait for the same lock.
 */
export function preRestoreBackupStep(
  app: App,
  progress: ReturnType<typeof restoreProgress>,
): (signal: AbortSignal) => Promise<string> {
  return async (signal) => {
    app.logger.info('taking a full pre-restore backup (--no-backup skips it)');
    // The backup engine loads only now: it is most of a restore's start-up time.
    const backup = await app.backups.run(
      { reason: 'pre-restore', trigger: 'cli' },
      {
        signal,
        onProgress: (event) => progress.report({ kind: 'backup', done: event.done, total: event.total }),
      },
    );
    progress.done();
    return backup.file;
  };
}

/**
 * The backup lock, taken after the pre-restore backup (which takes it itself): no backup reads a
 * database while it is replaced, and no two restores overlap.
 */
export function backupLockStep(app: App): (signal: AbortSignal) => Promise<PidLock> {
  return async (signal) => {
    const { acquireBackupLock } = await import('../backup/lock.js');
    const { config, logger } = app;
    return acquireBackupLock(config.backup.dir, {
      waitMs: config.backup.lock_wait,
      signal,
      logger,
      onWait: (holderPid) => logger.info({ holder_pid: holderPid }, 'waiting for a running backup to finish'),
    });
  };
}
