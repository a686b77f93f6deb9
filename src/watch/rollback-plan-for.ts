import { rollbackCommand } from '../core/known-good.js';
import { byPerson, planRollback, type RollbackPlan, type RollbackPlanInput } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';
import type { RollbackRequest } from './rollback-request.js';
import { defaultTarget } from './rollback-target.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** The core's rollback plan for `request`, from what the store knows now and the service as read. */
export function planFor(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  observation: ServiceObservation,
): RollbackPlan {
  const memory = rt.store.memory(service.key);
  const watch = request.watch ?? memory.watch ?? undefined;
  const now = rt.clock();
  let toRevision = request.toRevision;
  let closed: RollbackPlanInput['closed'];
  if (toRevision === undefined && watch === undefined) {
    // After a promotion: the known good revision before the serving one, within its rollback window.
    const target = defaultTarget(rt.store, service, now, observation.traffic);
    toRevision = target.to ?? undefined;
    // The window guards a known good revision that serves; a revision nobody vouched for (a person
    // sent traffic to it) goes back to the known good one under the usual rules.
    const vouched = target.serving !== null && target.serving === memory.stable;
    if (vouched && !target.window.open && target.to !== null && target.to !== target.serving)
      closed = {
        reason: target.window.why === 'closed' ? 'window_closed' : 'not_promoted',
        detail: `${target.window.detail}; alert only. To roll back by hand: ${rollbackCommand(service.key, target.to)}`,
      };
  }
  return planRollback({
    trigger: request.trigger,
    toRevision,
    // An alert during the watch of a deploy newer than the last rollback is a new incident too.
    candidateSeenAt: byPerson(request.trigger) ? undefined : watch?.startedAt,
    owed: request.owed !== undefined,
    closed,
    now,
    cooldownMs: service.config.cooldown,
    stable: memory.stable,
    bad: memory.bad,
    frozen: memory.frozen,
    lastAutoRollbackAt: memory.lastAutoRollbackAt,
    traffic: observation.traffic,
  });
}
