import type { BackupTrigger } from '../http/routes/backups.js';
import type { BackupService } from './backup-service.js';

/** `POST /v1/backups` over the backup service: one verified, cataloged backup, trigger "http". */
export function backupTriggerAdapter(backups: BackupService): BackupTrigger {
  return {
    async backup({ reason }, signal) {
      const result = await backups.run({ reason, trigger: 'http' }, { signal });
      return {
        file: result.file,
        size: result.size,
        sha256: result.sha256,
        startedAt: result.record.startedAt,
        finishedAt: result.record.finishedAt,
      };
    },
  };
}
