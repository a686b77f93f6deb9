import type { PruneOutcome } from '../backup/prune.js';
import type { BackupProgress, BackupResult } from '../backup/run-backup.js';
import type { BackupConfig } from '../config/schema/backup.js';
import type { BackupRequest } from '../core/backup-request.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

export interface BackupRunOptions {
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /** Logs to this logger instead of the service's (a pre-deploy backup names its service). */
  logger?: Logger;
}

export interface PruneOptions {
  /** Print the plan, delete nothing, take no lock. */
  dryRun: boolean;
  signal: AbortSignal;
}

/**
 * The backup use-case as every caller takes it: the scheduled job, `POST /v1/backups`, the
 * pre-deploy backup, `runwarden backup`, `backups prune` and the pre-restore backup of
 * `runwarden restore`. The engine loads on first use: a restore without a pre-restore backup never
 * pays for it.
 */
export interface BackupService {
  /**
   * One verified, cataloged backup; emits backup:started then backup:completed or backup:failed.
   * Rejects with the run's error (see runBackup: a missing source, a full disk, the lock held
   * past lock_wait, a failed verification, or the signal's reason).
   */
  run(request: BackupRequest, options?: BackupRunOptions): Promise<BackupResult>;
  /** Applies backup.retention to the catalog: a real run holds the backup lock, a dry run only reads. */
  prune(options: PruneOptions): Promise<PruneOutcome>;
}

export interface BackupServiceDeps {
  config: BackupConfig;
  /** The store, opened when a run first needs its catalog. */
  store: () => Store;
  events: EventBus;
  logger: Logger;
  /** The Cloud Run revision this runwarden runs in (K_REVISION), recorded in every manifest. */
  revision?: string;
  /** Told after each successful run (the off-site uploader takes the new archive from the catalog). */
  onBackedUp?: (result: BackupResult) => void;
}

/** The one place `runBackup` and `runPrune` are given their configuration, catalog and events. */
export function createBackupService(deps: BackupServiceDeps): BackupService {
  const backupLogger = deps.logger.child({ component: 'backup' });
  return {
    async run(request, options = {}) {
      const { runBackup } = await import('../backup/run-backup.js');
      const result = await runBackup(request, {
        config: deps.config,
        catalog: deps.store().backups,
        events: deps.events,
        logger: options.logger ?? backupLogger,
        signal: options.signal,
        ...(deps.revision ? { revision: deps.revision } : {}),
        onProgress: options.onProgress,
      });
      deps.onBackedUp?.(result);
      return result;
    },
    async prune(options) {
      const { runPrune } = await import('../backup/prune-run.js');
      return runPrune(
        {
          config: deps.config,
          catalog: deps.store().backups,
          events: deps.events,
          logger: deps.logger.child({ component: 'retention' }),
        },
        { dryRun: options.dryRun, signal: options.signal },
      );
    },
  };
}
