import { judgeGuard } from '../core/guard.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import { evaluateRules, type RuleEvaluation } from '../core/rules.js';
import { type ServiceObservation, servingOf } from '../core/watch-types.js';
import { summarize } from '../events/watch-events.js';
import { watchEventBase } from './event-base.js';
import { describeFailure, gatherSamples } from './gather-samples.js';
import { requestRollback } from './rollback.js';
import type { RollbackOutcome } from './rollback-request.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * One pass of the guard on the serving revision: after its promotion, for as long as it alone
 * serves, its guard rules are evaluated and stored (phase guard). A rollback rule that trips asks
 * the one rollback path, which sends traffic to the previous known good revision within the
 * revision's rollback window and otherwise refuses (announced once: notification, metric,
 * history) naming the command a person would run. It reads the service as the watch tick last
 * polled it, so it adds no Cloud Run call; it stands aside while a watch or an owed rollback is open.
 */
export async function guardService(rt: WatchRuntime, service: WatchedService, signal: AbortSignal) {
  const observation = rt.live.of(service.key).observation;
  if (!observation || rt.store.owed.get(service.key)) return;
  const memory = rt.store.memory(service.key);
  const serving = soleServing(observation);
  if (memory.watch || serving === null || serving !== memory.stable) return;
  const live = rt.live.of(service.key).guard;
  if (live.revision !== serving) {
    live.revision = serving;
    live.announced = new Set();
    live.alerted = new Set();
  }
  const now = rt.clock();
  const since = rt.store.knownGood.list(service.key).findLast((entry) => entry.revision === serving)?.at ?? 0;
  const subject = { revision: serving, rules: service.guardRules };
  const samples = await gatherSamples(rt, service, subject, observation, signal, (what, error) => {
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'guard: metric read failed');
    announceOnce(rt, service, live.announced, `failure:${what}`, () =>
      rt.events.emit('watch:failure', {
        ...watchEventBase(rt, service, null, { reason: `guard: ${describeFailure(what, error)}` }),
        candidate: serving,
        operation: 'metrics',
        error: {
          code: error instanceof RunwardenError ? error.code : 'RW_FAILED',
          message: errorMessage(error),
        },
      }),
    );
  });
  const evaluations = evaluateRules(service.guardRules, samples, { now, since, windows: rt.windows });
  const judgement = judgeGuard(evaluations, live.alerted);
  live.alerted = judgement.announced;
  for (const alert of judgement.alerts) announceAlert(rt, service, serving, alert);
  const outcome = await actOnTrips(
    rt,
    service,
    serving,
    judgement.trips,
    observation,
    live.announced,
    signal,
  );
  store(rt, service, serving, evaluations, judgement.trips, judgement.alerts, outcome);
}

const DRY_RUN_KEY = 'dry_run';

/** How long the guard's evaluations are kept (a row per rule per pass adds up: 7,200 a day per service). */
const GUARD_EVALUATIONS_KEPT_MS = 3 * 86_400_000;

/** Asks for the rollback of a trip and makes sure it is heard once when it cannot move anything. */
async function actOnTrips(
  rt: WatchRuntime,
  service: WatchedService,
  serving: string,
  trips: readonly RuleEvaluation[],
  observation: ServiceObservation,
  announced: Set<string>,
  signal: AbortSignal,
): Promise<RollbackOutcome | null> {
  const [first] = trips;
  if (!first || announced.has(DRY_RUN_KEY)) return null;
  const outcome = await tripped(rt, service, serving, trips, observation, announced, signal);
  // A dry run changes nothing, so the same trip would be "rolled back" every pass: once is enough.
  if (outcome?.kind === 'dry_run') announced.add(DRY_RUN_KEY);
  // Nowhere earlier to go (the first revision ever seen): the trip is still heard, once.
  if (outcome?.kind === 'noop')
    announceOnce(rt, service, announced, `noop:${first.rule}`, () =>
      announceAlert(rt, service, serving, first, 'no earlier known good revision to roll back to'),
    );
  return outcome;
}

async function tripped(
  rt: WatchRuntime,
  service: WatchedService,
  serving: string,
  trips: readonly RuleEvaluation[],
  observation: ServiceObservation,
  announced: Set<string>,
  signal: AbortSignal,
): Promise<RollbackOutcome | null> {
  const reason = `guard on ${serving}: ${trips.map((trip) => `${trip.rule}: ${trip.detail}`).join('; ')}`;
  try {
    return await requestRollback(
      rt,
      {
        service: service.key,
        trigger: 'guard',
        reason,
        rule: trips[0]?.rule ?? null,
        decidedAt: rt.clock(),
        known: observation,
        // Each refusal once per serving revision: a trip that persists is not repeated every pass.
        announceRefusal: (refusal) => {
          const key = `refused:${refusal}`;
          if (announced.has(key)) return false;
          announced.add(key);
          return true;
        },
      },
      signal,
    );
  } catch (error) {
    // Announced as rollback:failed by the rollback path; the next pass asks again.
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'guard rollback failed; will retry');
    return null;
  }
}

function announceAlert(
  rt: WatchRuntime,
  service: WatchedService,
  serving: string,
  alert: RuleEvaluation,
  note?: string,
) {
  rt.events.emit('watch:alert', {
    ...watchEventBase(rt, service, null, {
      rule: alert.rule,
      reason: `guard on ${serving}: ${alert.rule}: ${alert.detail}${note ? `; ${note}` : ''}`,
    }),
    candidate: serving,
    rule: alert.rule,
    evaluation: summarize(alert),
  });
}

function announceOnce(
  rt: WatchRuntime,
  service: WatchedService,
  announced: Set<string>,
  key: string,
  announce: () => void,
): void {
  if (announced.has(key)) return;
  announced.add(key);
  rt.logger.debug({ service: service.key, key }, 'guard: announced');
  announce();
}

/** Stored like a watch's evaluations, marked as the guard's, with what the pass did about each. */
function store(
  rt: WatchRuntime,
  service: WatchedService,
  serving: string,
  evaluations: readonly RuleEvaluation[],
  trips: readonly RuleEvaluation[],
  alerts: readonly RuleEvaluation[],
  outcome: RollbackOutcome | null,
): void {
  const tripped = new Set(trips.map((trip) => trip.rule));
  const alerted = new Set(alerts.map((alert) => alert.rule));
  const promoted = rt.store.watches
    .recent(service.key, 20)
    .find((watch) => watch.status === 'promoted' && watch.candidate === serving);
  const owner = { watchId: promoted?.id ?? null, phase: 'guard' as const, revision: serving };
  const now = rt.clock();
  // Every pass of every service adds a row per rule: the guard's are kept days, not the watch's 90.
  rt.store.evaluations.pruneGuard(service.key, now - GUARD_EVALUATIONS_KEPT_MS);
  rt.store.evaluations.add(owner, service.key, now, evaluations, (entry) => {
    if (tripped.has(entry.rule)) return takenBy(outcome);
    return alerted.has(entry.rule) ? 'alert' : 'none';
  });
}

function takenBy(outcome: RollbackOutcome | null): string {
  if (outcome === null) return 'rollback_failed';
  if (outcome.kind === 'refused') return `refused:${outcome.reason}`;
  return outcome.kind === 'noop' ? 'none' : 'rollback';
}

function soleServing(observation: ServiceObservation): string | null {
  const serving = Object.entries(servingOf(observation.traffic));
  return serving.length === 1 && serving[0]?.[1] === 100 ? serving[0][0] : null;
}
