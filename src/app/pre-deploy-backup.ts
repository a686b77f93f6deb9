import type { Logger } from '../telemetry/logger.js';
import type { BackupTaken, PreDeployBackup } from '../watch/ports.js';
import type { BackupService } from './backup-service.js';

/**
 * The deploy watch's pre-deploy backup port over the backup service: a full, verified, cataloged
 * backup with reason `pre-deploy`; it waits for the shared backup lock like any other backup.
 */
export function preDeployBackup(backups: BackupService, logger: Logger): PreDeployBackup {
  return {
    async take(request, signal): Promise<BackupTaken> {
      const result = await backups.run(
        { reason: 'pre-deploy', trigger: request.trigger },
        { signal, logger: logger.child({ component: 'backup', service: request.service }) },
      );
      return { file: result.file, id: result.record.id, takenAt: Date.parse(result.record.startedAt) };
    },
  };
}
