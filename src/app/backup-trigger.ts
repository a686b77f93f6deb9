import { runBackup } from '../backup/run-backup.js';
import type { BackupConfig } from '../config/schema/backup.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackupTrigger } from '../http/routes/backups.js';

/** `POST /v1/backups` over the backup use-case: one verified, cataloged backup, trigger "http". */
export function backupTriggerAdapter(deps: {
  config: BackupConfig;
  store: Store;
  events: EventBus;
  logger: Logger;
}) {
  return {
    async backup({ reason }, signal) {
      const result = await runBackup(
        { reason, trigger: 'http' },
        {
          config: deps.config,
          catalog: deps.store.backups,
          events: deps.events,
          logger: deps.logger,
          signal,
        },
      );
      return {
        file: result.file,
        size: result.size,
        sha256: result.sha256,
        startedAt: result.record.startedAt,
        finishedAt: result.record.finishedAt,
      };
    },
  } satisfies BackupTrigger;
}
