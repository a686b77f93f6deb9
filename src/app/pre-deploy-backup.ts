import { runBackup } from '../backup/run-backup.js';
import type { BackupConfig } from '../config/schema/backup.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackupTaken, PreDeployBackup } from '../watch/ports.js';

/**
 * The pre-deploy backup through the backup use-case: a full, verified, cataloged backup
 * with reason `pre-deploy`; it waits for the shared backup lock like any other backup.
 */
export class RunBackupPreDeploy implements PreDeployBackup {
  constructor(
    private readonly deps: { config: BackupConfig; store: Store; events: EventBus; logger: Logger },
  ) {}

  async take(
    request: { service: string; trigger: 'watch' | 'cli' },
    signal: AbortSignal,
  ): Promise<BackupTaken> {
    const result = await runBackup(
      { reason: 'pre-deploy', trigger: request.trigger },
      {
        config: this.deps.config,
        catalog: this.deps.store.backups,
        events: this.deps.events,
        logger: this.deps.logger.child({ component: 'backup', service: request.service }),
        signal,
      },
    );
    return { file: result.file, id: result.record.id, takenAt: Date.parse(result.record.startedAt) };
  }
}
