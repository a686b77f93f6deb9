import { decideOwedRollback } from '../core/owed-rollback.js';
import type { ServiceObservation } from '../core/watch-types.js';
import { FROZEN_KEY } from '../core/watch-machine.js';
import { errorMessage } from '../core/errors.js';
import type { OwedRollbackRecord } from '../store/watch/owed-rollbacks-repo.js';
import { actionInProgress } from './action-lease.js';
import { watchEventBase } from './event-base.js';
import { requestRollback } from './rollback.js';
import { recordLanded } from './rollback-execute.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The first thing a tick does: finish a rollback that was decided but never confirmed (the daemon
 * was stopped mid-update, or the API failed), before any fresh judgement of the watch, which could
 * otherwise find the errors aged out and end the watch with traffic left on the bad revision.
 * Returns true when the tick ends here: the service was acted on (the observation is out of date),
 * the owed rollback holds the watch (frozen), or a change of the service is in flight (its outcome
 * settles the debt); false when nothing is owed any more.
 */
export async function settleOwedRollback(
  rt: WatchRuntime,
  service: WatchedService,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<boolean> {
  const owed = rt.store.owed.get(service.key);
  if (!owed) return false;
  // A standby holds what is owed for the leader (or for itself, once it leads): no judgement meanwhile.
  if (!rt.leadership.mayAct()) return true;
  // Its rollback may be the one in flight right now (an alert's, say): that one settles it.
  if (actionInProgress(rt, service.key)) return true;
  const memory = rt.store.memory(service.key);
  const watch = owed.watchId === null ? undefined : rt.store.watches.get(owed.watchId);
  const step = decideOwedRollback(owed, {
    frozen: memory.frozen,
    watchStatus: watch?.status ?? null,
    traffic: observation.traffic,
  });
  switch (step.kind) {
    case 'superseded':
      if (rt.store.owed.clear(owed.id)) announceSuperseded(rt, service, owed, step.reason);
      return false;
    case 'hold':
      if (step.announce) {
        rt.store.owed.setAnnounced(owed.id, [...owed.announced, FROZEN_KEY]);
        rt.events.emit('watch:held', {
          ...watchEventBase(rt, service, watch ?? null, { rule: owed.rule, reason: step.reason }),
          wouldDo: 'rollback',
        });
      }
      return true;
    case 'landed':
      await recordLanded(rt, service, owed, observation, signal);
      return true;
    case 'carry_out':
      await carryOut(rt, service, owed, observation, signal);
      return true;
  }
}

async function carryOut(
  rt: WatchRuntime,
  service: WatchedService,
  owed: OwedRollbackRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  const decided = new Date(owed.decidedAt).toISOString();
  rt.logger.info(
    { service: service.key, to: owed.to, from: owed.from, trigger: owed.trigger, decidedAt: decided },
    'carrying out an owed rollback',
  );
  const open = rt.store.watches.open(service.key);
  const announced = new Set(owed.announced);
  try {
    await requestRollback(
      rt,
      {
        service: service.key,
        trigger: owed.trigger,
        reason: `${owed.reason} (decided at ${decided}, not confirmed until now)`,
        rule: owed.rule,
        toRevision: owed.to,
        decidedAt: owed.decidedAt,
        known: observation,
        watch: open && open.id === owed.watchId ? open : undefined,
        owed,
        announceRefusal: (refusal) => {
          const key = `refused:${refusal}`;
          if (announced.has(key)) return false;
          announced.add(key);
          rt.store.owed.setAnnounced(owed.id, [...announced]);
          return true;
        },
      },
      signal,
    );
  } catch (error) {
    // Announced as rollback:failed by the rollback path; still owed, so the next tick tries again.
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'owed rollback failed; will retry');
  }
}

/** Someone else's change stands; the history says the owed rollback was dropped and why. */
function announceSuperseded(
  rt: WatchRuntime,
  service: WatchedService,
  owed: OwedRollbackRecord,
  detail: string,
): void {
  rt.logger.warn({ service: service.key, to: owed.to, detail }, 'owed rollback superseded');
  const watch = owed.watchId === null ? null : (rt.store.watches.get(owed.watchId) ?? null);
  rt.events.emit('rollback:refused', {
    ...watchEventBase(rt, service, watch, {
      rule: owed.rule,
      reason: `${owed.reason}; the owed rollback to ${owed.to} is dropped: ${detail}`,
    }),
    trigger: owed.trigger,
    refusal: 'stale',
    to: owed.to,
  });
}
