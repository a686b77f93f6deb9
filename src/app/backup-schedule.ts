import type { Job } from '../daemon/scheduler.js';
import type { BackupService } from './backup-service.js';
import type { OffsiteService } from './offsite-service.js';

/**
 * The daemon's scheduled backup: each pass takes one backup (reason `scheduled`), then applies
 * retention, locally and then (with off-site copies on) in the bucket. Retention runs after a
 * successful backup only: a failed backup never prunes, and a failed prune fails the pass but
 * leaves the new backup in place. A failed remote prune runs after the local one and undoes none
 * of it; the next pass tries the bucket again.
 */
export function scheduledBackupJob(backups: BackupService, offsite?: OffsiteService): Job {
  return {
    name: 'backup',
    async runOnce(signal) {
      await backups.run({ reason: 'scheduled', trigger: 'schedule' }, { signal });
      await backups.prune({ dryRun: false, signal });
      // Logged by the scheduler with the job's name when it rejects.
      await offsite?.prune({ dryRun: false, signal });
    },
  };
}
