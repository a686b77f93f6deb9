import { statfs } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import type { DaemonContext } from './daemon-context.js';

/** How often the free space of backup.dir is measured between backups. */
export const DISK_SPACE_INTERVAL_MS = 60_000;

type Parts = Pick<DaemonContext, 'config' | 'logger' | 'metrics' | 'events' | 'scheduler'>;

/**
 * Keeps `runwarden_backup_dir_free_bytes` current: at start, each minute, and after each backup and
 * prune (the moments it changes most). With off-site copies, local retention keeps archives the
 * bucket has not confirmed, so a long bucket outage becomes a disk problem; the shipped alert
 * `RunwardenBackupDiskLow` compares this with the last archive's size, well before a backup fails.
 * Returns a function that stops listening to events (the scheduler stops the timer).
 */
export function scheduleDiskSpace(context: Parts): () => void {
  const measure = diskSpaceMeter(context);
  context.scheduler.every(DISK_SPACE_INTERVAL_MS, { name: 'backup-disk-space', runOnce: measure }, true);
  // Straight after the event, not through the scheduler: a prune following its backup at once
  // would find the first measurement still running and be skipped. measure() never throws.
  const now = () => void measure();
  const offs = [context.events.on('backup:completed', now), context.events.on('backups:pruned', now)];
  return () => {
    for (const off of offs) off();
  };
}

/** Measures backup.dir's file system once per call and sets the gauge; never throws. */
export function diskSpaceMeter(
  context: Pick<DaemonContext, 'config' | 'logger' | 'metrics'>,
): () => Promise<void> {
  const logger = context.logger.child({ component: 'backup' });
  const dir = context.config.backup.dir;
  let failing: string | undefined;
  return async () => {
    try {
      const stats = await statfs(dir);
      // bavail, not bfree: the blocks reserved for root are not runwarden's to fill.
      context.metrics.backup.dirFreeBytes.set(stats.bavail * stats.bsize);
      failing = undefined;
    } catch (error) {
      // A missing folder (no backup yet) or one it cannot read: the configuration check reports it.
      // The gauge keeps its last value, and the same failure is logged once.
      const message = errorMessage(error);
      if (message !== failing)
        logger.debug({ dir, err: message }, 'cannot measure the free space of backup.dir');
      failing = message;
    }
  };
}
