import { z } from 'zod';
import { snakeKeys } from '../../core/snake-keys.js';
import { errorMessage, RetryableError, RunwardenError } from '../../core/errors.js';
import { json, type Route } from '../router.js';
import { limited, vetJson, type WebhookGuard } from './alerts-request.js';

/** The backup trigger's path (a cluster's standby answers it 503: the backup leader takes backups). */
export const BACKUP_TRIGGER_PATH = '/v1/backups';

/** A backup as the endpoint reports it (its JSON keys are snake_case: `started_at`, `finished_at`). */
export interface TriggeredBackup {
  file: string;
  size: number;
  sha256: string;
  startedAt: string;
  finishedAt: string;
}

/**
 * Takes one verified backup now. Resolves once it is written, verified and cataloged; rejects with
 * the backup's error: code RW_LOCK_HELD when another backup held the lock too long, a
 * RetryableError when trying again may work (a snapshot could not settle), anything else when it failed.
 */
export interface BackupTrigger {
  backup(request: { reason: string }, signal: AbortSignal): Promise<TriggeredBackup>;
}

export const backupRequestSchema = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, { error: 'expected a reason like "pre-deploy"', abort: true })
    .max(200, { error: 'expected a reason of at most 200 characters' })
    .regex(/^[\p{L}\p{N} ._:/@#+-]+$/u, {
      error: 'expected letters, digits, spaces and . _ : / @ # + - only',
    }),
});

export interface BackupRouteDeps extends WebhookGuard {
  backups: BackupTrigger;
  /** Runs the backup as tracked daemon work: a hung-up caller does not abort it, a shutdown waits for it. */
  runWork: <T>(name: string, work: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

/**
 * `POST /v1/backups` with `{"reason": "pre-deploy"}`: for CI pipelines, before a deploy. Answers 201
 * with the backup once it is verified (`{"backup": {file, size, sha256, started_at, finished_at}}`);
 * 409 when another backup is running, 503 when it may be retried, 500 when it failed; 401/413/400
 * when refused; 503 with Retry-After past the in-flight limit.
 */
export function backupRoute(deps: BackupRouteDeps): Route {
  return {
    method: 'POST',
    path: BACKUP_TRIGGER_PATH,
    handler: limited(deps, 'backups', async (context) => {
      const vetted = await vetJson(deps, context, 'backups', backupRequestSchema);
      if (!vetted.ok) return vetted.response;
      const { reason } = vetted.value;
      deps.logger.info({ reason }, 'backup requested over HTTP');
      try {
        const backup = await deps.runWork('backup (http)', (signal) =>
          deps.backups.backup({ reason }, signal),
        );
        // Keys in snake_case, as in every JSON runwarden writes (`started_at`, not `startedAt`).
        return json(201, snakeKeys({ backup }));
      } catch (error) {
        const code = error instanceof RunwardenError ? error.code : 'RW_FAILED';
        deps.logger.error({ reason, code, err: errorMessage(error) }, 'backup requested over HTTP failed');
        const status = code === 'RW_LOCK_HELD' ? 409 : error instanceof RetryableError ? 503 : 500;
        return json(status, { error: errorMessage(error), code });
      }
    }),
  };
}
