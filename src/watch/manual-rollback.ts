import { UsageError } from '../core/errors.js';
import { badMarkNotice } from './bad-mark.js';
import { requestRollback } from './rollback.js';
import { defaultTarget } from './rollback-target.js';
import type { RollbackOutcome } from './rollback-request.js';
import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

/**
 * `runwarden rollback`: a person's rollback, through the same path as the watch's. Frozen services
 * and the cooldown do not stop it (a person decides); the etag precondition and the action lease
 * still apply. Without `--to` it goes to the default target (rollback-target.ts: during a watch the
 * stable revision, after a promotion the known good one before). `--to` must name a ready revision of the service. A target marked bad is refused
 * (`target_bad`, naming the mark) unless `force`: the person is told before going back to it.
 */
export async function manualRollback(
  rt: WatchRuntime,
  options: {
    service: string;
    to?: string | undefined;
    dryRun: boolean;
    reason?: string | undefined;
    force?: boolean | undefined;
  },
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
  const to = options.to ?? defaultTarget(rt.store, service, rt.clock()).to;
  const bad = to === null || options.force === true ? null : badMarkNotice(rt, service.key, to);
  if (bad !== null)
    return {
      kind: 'refused',
      reason: 'target_bad',
      to,
      detail: `${bad}; pass --force to send all traffic to it anyway`,
    };
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
