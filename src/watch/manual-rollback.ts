import { UsageError } from '../errors.js';
import { requestRollback } from './rollback.js';
import type { RollbackOutcome } from './rollback-request.js';
import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

/**
 * `runwarden rollback`: a person's rollback, through the same path as the watch's. Frozen services,
 * the cooldown and bad marks do not stop it (a person decides); the etag precondition and the
 * action lease still apply. `--to` must name a ready revision of the service.
 */
export async function manualRollback(
  rt: WatchRuntime,
  options: { service: string; to?: string | undefined; dryRun: boolean; reason?: string | undefined },
  signal: AbortSignal,
): Promise<RollbackOutcome> {
  const service = findService(rt.services, options.service);
  if (options.to !== undefined) {
    const revisions = await rt.cloudRun.listRevisions(service.ref, signal);
    const target = revisions.find((revision) => revision.name === options.to);
    if (!target) {
      const newest = revisions.slice(0, 5).map((revision) => revision.name);
      throw new UsageError(
        `--to ${options.to}: not a revision of ${service.key}; newest: ${newest.join(', ')}`,
      );
    }
    if (!target.ready)
      throw new UsageError(`--to ${options.to}: the revision is not ready and cannot take traffic`);
  }
  return requestRollback(
    rt,
    {
      service: service.key,
      trigger: 'manual',
      reason: options.reason ?? 'rolled back by a person (runwarden rollback)',
      toRevision: options.to,
      dryRun: options.dryRun,
      decidedAt: rt.clock(),
    },
    signal,
  );
}
