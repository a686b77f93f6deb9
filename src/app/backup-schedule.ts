import type { Job } from '../daemon/scheduler.js';
import type { BackupService } from './backup-service.js';

/**
 * The daemon's scheduled backup: each pass takes one backup (reason `scheduled`), then applies
 * retention. Retention runs after a successful backup only: a failed backup never prunes, and a
 * failed prune fails the pass but leaves the new backup in place.
 */
export function scheduledBackupJob(backups: BackupService): Job {
  return {
    name: 'backup',
    async runOnce(signal) {
      await backups.run({ reason: 'scheduled', trigger: 'schedule' }, { signal });
      await backups.prune({ dryRun: false, signal });
    },
  };
}
