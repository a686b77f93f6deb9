import { byPerson, planRollback, type RollbackPlan } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';
import type { RollbackRequest } from './rollback-request.js';
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
  return planRollback({
    trigger: request.trigger,
    toRevision: request.toRevision,
    // An alert during the watch of a deploy newer than the last rollback is a new incident too.
    candidateSeenAt: byPerson(request.trigger) ? undefined : watch?.startedAt,
    owed: request.owed !== undefined,
    now: rt.clock(),
    cooldownMs: service.config.cooldown,
    stable: memory.stable,
    bad: memory.bad,
    frozen: memory.frozen,
    lastAutoRollbackAt: memory.lastAutoRollbackAt,
    traffic: observation.traffic,
  });
}
