import { PROBE_AUTH_FAILED } from '../core/probe-auth.js';
import type { RollbackRefusal } from '../core/rollback-plan.js';
import type { RuleEvaluation } from '../core/rules.js';
import type { ServiceObservation } from '../core/watch-types.js';
import {
  AUTH_FAILED_KEY,
  alertKey,
  FROZEN_KEY,
  INSUFFICIENT_KEY,
  type Judgement,
} from '../core/watch-machine.js';
import { errorMessage } from '../core/errors.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { watchEventBase } from './event-base.js';
import { promoteWatch } from './promote.js';
import { requestRollback } from './rollback.js';
import { summarize } from '../events/watch-events.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * Carries out the core's judgement of one tick: roll back, promote, end, hold or keep watching;
 * announces alert-only trips and missing data once per watch; stores every evaluation with what was
 * done about it. A rollback goes first: nothing is written before UpdateService but the trip itself.
 */
export async function applyJudgement(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  judgement: Judgement,
  evaluations: readonly RuleEvaluation[],
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  // Read again: this tick may already have announced a failed metric read.
  const announced = new Set(rt.store.watches.get(watch.id)?.announced ?? watch.announced);
  const tripped = [...watch.tripped, ...judgement.trips.map((trip) => trip.rule)];
  if (judgement.kind === 'rollback') {
    rt.store.watches.setProgress(watch.id, tripped, [...announced]);
    await rollback(rt, service, { ...watch, tripped }, judgement, observation, announced, signal);
  }
  announce(rt, service, watch, judgement, announced);
  store(rt, service, watch, judgement, evaluations);
  // A standby leaves the watch open: the leader promotes (and this one, once it leads).
  if (judgement.kind === 'promote' && rt.leadership.mayAct())
    promoteWatch(rt, service, watch, judgement.reason);
  if (judgement.kind === 'end') endWatch(rt, service, watch, judgement, tripped);
  if (rt.store.watches.get(watch.id)?.status === 'watching')
    rt.store.watches.setProgress(watch.id, tripped, [...announced]);
  else rt.metrics.activeWatches.set({ service: service.key }, 0);
}

// schema_changed: with on_schema_change alert a person decides (roll back and restore, or fix forward).
const PERMANENT = new Set<RollbackRefusal>(['no_stable', 'target_bad', 'schema_changed']);

async function rollback(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  judgement: Judgement,
  observation: ServiceObservation,
  announced: Set<string>,
  signal: AbortSignal,
): Promise<void> {
  const once = (refusal: RollbackRefusal) => {
    const key = `refused:${refusal}`;
    if (announced.has(key)) return false;
    announced.add(key);
    return true;
  };
  try {
    const outcome = await requestRollback(
      rt,
      {
        service: service.key,
        trigger: 'watch',
        reason: judgement.reason,
        rule: judgement.trips[0]?.rule ?? null,
        decidedAt: rt.clock(),
        known: observation,
        watch,
        announceRefusal: once,
      },
      signal,
    );
    const pastDeadline = judgement.trips.length === 0 || rt.clock() >= watch.deadline;
    if (outcome.kind === 'refused' && PERMANENT.has(outcome.reason) && pastDeadline) {
      // Nobody can carry this rollback out (no known good revision...): end at the deadline rather
      // than ask forever. A candidate that tripped stays marked bad.
      const status = judgement.trips.length > 0 ? 'failed' : 'inconclusive';
      const reason = `${judgement.reason}; ${outcome.detail}`;
      const now = rt.clock();
      const ended = rt.store.transaction(() => {
        if (!rt.store.watches.end(watch.id, status, reason, now)) return false;
        if (status === 'failed') rt.store.revisions.mark(service.key, watch.candidate, 'bad', reason, now);
        return true;
      });
      if (ended)
        rt.events.emit('watch:ended', {
          ...watchEventBase(rt, service, watch, { rule: judgement.trips[0]?.rule ?? null, reason }),
          status,
        });
    }
    if (outcome.kind === 'dry_run') {
      rt.store.watches.end(watch.id, 'would_roll_back', judgement.reason, rt.clock());
      rt.events.emit('watch:ended', {
        ...watchEventBase(rt, service, watch, {
          rule: judgement.trips[0]?.rule ?? null,
          reason: `dry run: ${judgement.reason}`,
        }),
        status: 'would_roll_back',
      });
    }
  } catch (error) {
    // Announced as rollback:failed by the rollback path; the watch stays open and the next tick tries again.
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'rollback attempt failed; will retry');
  }
}

function announce(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  judgement: Judgement,
  announced: Set<string>,
): void {
  for (const alert of judgement.alerts) {
    announced.add(alertKey(alert.rule));
    rt.events.emit('watch:alert', {
      ...watchEventBase(rt, service, watch, { rule: alert.rule, reason: `${alert.rule}: ${alert.detail}` }),
      rule: alert.rule,
      evaluation: summarize(alert),
    });
  }
  if (judgement.authFailed.length > 0 && !announced.has(AUTH_FAILED_KEY)) {
    announced.add(AUTH_FAILED_KEY);
    const [first] = judgement.authFailed;
    rt.logger.warn(
      { service: service.key, rule: first?.rule },
      'health probes refused for their own credentials',
    );
    rt.events.emit('watch:failure', {
      ...watchEventBase(rt, service, watch, {
        rule: first?.rule ?? null,
        reason: `auth_failed: ${judgement.authFailed.map((entry) => `${entry.rule}: ${entry.detail}`).join('; ')}`,
      }),
      operation: 'probe_auth',
      error: { code: PROBE_AUTH_FAILED, message: first?.detail ?? 'auth_failed' },
    });
  }
  if (judgement.insufficient.length > 0 && !announced.has(INSUFFICIENT_KEY)) {
    announced.add(INSUFFICIENT_KEY);
    rt.events.emit('watch:insufficient-data', {
      ...watchEventBase(rt, service, watch, { reason: judgement.reason }),
      policy: service.config.insufficient_data,
      rules: judgement.insufficient.map(summarize),
    });
  }
  if (judgement.kind === 'hold' && !announced.has(FROZEN_KEY)) {
    announced.add(FROZEN_KEY);
    rt.events.emit('watch:held', {
      ...watchEventBase(rt, service, watch, {
        rule: judgement.trips[0]?.rule ?? null,
        reason: judgement.reason,
      }),
      wouldDo: judgement.wouldDo ?? null,
    });
  }
}

function store(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  judgement: Judgement,
  evaluations: readonly RuleEvaluation[],
): void {
  const trips = new Set(judgement.trips.map((trip) => trip.rule));
  const alerts = new Set(judgement.alerts.map((alert) => alert.rule));
  const owner = { watchId: watch.id, phase: 'watch' as const, revision: watch.candidate };
  rt.store.evaluations.add(owner, service.key, rt.clock(), evaluations, (entry) => {
    if (trips.has(entry.rule)) return judgement.kind; // rollback, or hold while frozen
    if (alerts.has(entry.rule)) return 'alert';
    if (judgement.kind === 'promote' || judgement.kind === 'end') return judgement.kind;
    return 'none';
  });
  for (const entry of evaluations) {
    const labels = { service: service.key, rule: entry.rule };
    rt.metrics.ruleThreshold.set(labels, entry.threshold);
    if (entry.value !== null) rt.metrics.ruleValue.set(labels, entry.value);
  }
}

function endWatch(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  judgement: Judgement,
  tripped: readonly string[],
): void {
  const status = judgement.endStatus ?? 'inconclusive';
  const now = rt.clock();
  const ended = rt.store.transaction(() => {
    if (!rt.store.watches.end(watch.id, status, judgement.reason, now)) return false;
    // Tripped rules are evidence enough: never promoted, never rolled back to automatically.
    if (status === 'failed')
      rt.store.revisions.mark(service.key, watch.candidate, 'bad', judgement.reason, now);
    return true;
  });
  if (!ended) return;
  rt.events.emit('watch:ended', {
    ...watchEventBase(rt, service, watch, { rule: tripped[0] ?? null, reason: judgement.reason }),
    status,
  });
}
