import type { BackupConfig } from '../config/schema/backup.js';
import type { Job } from '../daemon/scheduler.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { type BackupResult, runBackup } from './run-backup.js';

export interface BackupJobDeps {
  config: BackupConfig;
  store: Store;
  events: EventBus;
  logger: Logger;
  /**
   * Runs after a backup succeeded, and only then (retention: a failed backup never prunes). Its
   * failure fails the pass but leaves the new backup in place.
   */
  afterSuccess?: (result: BackupResult, signal: AbortSignal) => Promise<void>;
}

/** The daemon's scheduled backup: each pass takes one backup (reason `scheduled`), then prunes. */
export function createBackupJob(deps: BackupJobDeps): Job {
  return {
    name: 'backup',
    async runOnce(signal) {
      const result = await runBackup(
        { reason: 'scheduled', trigger: 'schedule' },
        {
          config: deps.config,
          catalog: deps.store.backups,
          events: deps.events,
          logger: deps.logger,
          signal,
        },
      );
      await deps.afterSuccess?.(result, signal);
    },
  };
}
