import { probeWithIdentity } from './probe-identity.js';
import type { OwedRollback } from '../core/owed-rollback.js';
import { byPerson, type RollbackPlan, trafficTo } from '../core/rollback-plan.js';
import { type ServiceObservation, servingOf, snapshotOf } from '../core/watch-types.js';
import { errorMessage, RetryableError, RunwardenError } from '../core/errors.js';
import { sleep } from '../util/sleep.js';
import type { RollbackCompletedEvent, RollbackEventBase } from '../events/watch-events.js';
import type { RestorePointReport } from '../core/restore-point.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { restoreReportOrUnknown } from './restore-points.js';
import type { RollbackOutcome, RollbackRequest } from './rollback-request.js';
import { planFor } from './rollback-plan-for.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

type UpdatePlan = Extract<RollbackPlan, { kind: 'update' }>;

const MAX_CONFLICTS = 3;

/**
 * Sends the traffic to `plan.to` with the etag precondition, waits for the operation, confirms it
 * in trafficStatuses, probes the service again and records it. On an etag conflict the service is
 * re-read and the rollback decided again: if someone else already moved the traffic (or moved it
 * elsewhere) their change stands; only an unrelated change (same serving revisions) is retried.
 * When the first attempt was decided on the last poll (`cached`) rather than a read, its conflict
 * means only that the poll was out of date: the rollback is decided afresh on the service as read.
 */
export async function executeRollback(
  rt: WatchRuntime,
  service: WatchedService,
  given: RollbackRequest,
  first: UpdatePlan,
  observation: ServiceObservation,
  signal: AbortSignal,
  options: { cached?: boolean } = {},
): Promise<RollbackOutcome> {
  // The open watch, read once: record() ends it, and the completed event must still name it (a
  // person's rollback carries none of its own), or started and completed land in different incidents.
  const request: RollbackRequest = { ...given, watch: given.watch ?? openWatch(rt, service) };
  const decidedAt = request.decidedAt ?? rt.clock();
  let plan = first;
  let current = observation;
  let announced: Promise<RestorePointReport> | undefined;
  const base = () => eventBase(rt, service, request, plan);
  for (let attempt = 1; ; attempt += 1) {
    try {
      mayStillAct(rt, request);
      const after = await rt.cloudRun.updateTraffic(service.ref, plan.traffic, current.etag, signal, () => {
        // Announced once the request is accepted, so computing the report never delays it.
        announced = restoreReportOrUnknown(rt, service, request.watch ?? null, signal).then(
          (restorePoint) => {
            rt.events.emit('rollback:started', { ...base(), restorePoint });
            return restorePoint;
          },
        );
      });
      const confirmed = await confirm(rt, service, plan.to, after, signal);
      const probe = await probeAgain(rt, service, confirmed.observation, signal);
      record(rt, service, request, plan, confirmed.observation, confirmed.ok);
      const restorePoint = await (announced ??
        restoreReportOrUnknown(rt, service, request.watch ?? null, signal));
      if (restorePoint.schemaChanged === true)
        rt.logger.warn(
          {
            service: service.key,
            to: plan.to,
            schema: restorePoint.schemaDetail,
            backup: restorePoint.backup,
          },
          'ROLLED BACK ALTHOUGH THE DATABASE SCHEMA CHANGED since the target served: check whether the data needs the restore point',
        );
      const completed: RollbackCompletedEvent = {
        ...base(),
        at: rt.clock(),
        restorePoint,
        confirmed: confirmed.ok,
        probe,
        durationMs: rt.clock() - decidedAt,
      };
      rt.events.emit('rollback:completed', completed);
      rt.logger.info(
        { service: service.key, to: plan.to, from: plan.from, confirmed: confirmed.ok },
        'rolled back',
      );
      return { kind: 'rolled_back', to: plan.to, from: plan.from, confirmed: confirmed.ok };
    } catch (error) {
      const conflict = error instanceof RunwardenError && error.code === 'RW_CLOUDRUN_CONFLICT';
      if (!conflict || attempt >= MAX_CONFLICTS || signal.aborted) {
        await fail(rt, service, request, plan, announced, error, signal);
        throw error;
      }
      rt.logger.warn(
        { service: service.key, attempt },
        'service changed meanwhile (etag conflict); deciding again',
      );
      current = await rt.cloudRun.getService(service.ref, signal);
      const again = planFor(rt, service, request, current);
      if (again.kind === 'noop') return recordNoop(rt, service, request, again.to);
      if (again.kind === 'refused')
        return { kind: 'refused', reason: again.reason, detail: again.detail, to: again.to };
      const decidedOnPoll = options.cached === true && attempt === 1;
      if (!decidedOnPoll && (!sameRevisions(again.from, plan.from) || again.to !== plan.to)) {
        const detail = `traffic changed meanwhile (now serving ${again.from.join(', ') || 'nothing'}); not overwritten`;
        rt.events.emit('rollback:refused', {
          ...base(),
          reason: `${request.reason}; ${detail}`,
          refusal: 'stale',
          to: plan.to,
        });
        return { kind: 'refused', reason: 'stale', detail, to: plan.to };
      }
      plan = again;
    }
  }
}

/**
 * The last check before UpdateService: an automatic change is sent only while this runwarden holds
 * the watch lease short of its margin. Losing it on the way fails the rollback (announced; an owed
 * one stays owed, for the new leader).
 */
function mayStillAct(rt: WatchRuntime, request: RollbackRequest): void {
  if (byPerson(request.trigger) || rt.leadership.mayAct()) return;
  throw new RetryableError(
    'RW_LEASE_NOT_HELD',
    'the watch lease was lost (or is past its safety margin) before the traffic change was sent',
  );
}

/** The service's open watch; none when the store cannot say (the rollback goes on, `fail` copes). */
function openWatch(rt: WatchRuntime, service: WatchedService): WatchRecord | undefined {
  try {
    return rt.store.watches.open(service.key) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Traffic already all on the target. For a watch, the candidate is still rejected. */
export function recordNoop(rt: WatchRuntime, service: WatchedService, request: RollbackRequest, to: string) {
  const watch = request.watch;
  if (request.trigger === 'watch' && watch) {
    const now = rt.clock();
    const reason = `${request.reason}; traffic was already all on ${to}`;
    rt.store.transaction(() => {
      rt.store.revisions.mark(service.key, watch.candidate, 'bad', reason, now);
      rt.store.watches.end(watch.id, 'failed', reason, now);
    });
    rt.events.emit('watch:ended', {
      service: service.key,
      candidate: watch.candidate,
      stable: watch.stable,
      rule: request.rule ?? null,
      reason,
      watchId: watch.id,
      at: now,
      dryRun: false,
      status: 'failed',
    });
  }
  return { kind: 'noop' as const, to };
}

/**
 * An owed rollback found already in effect (traffic all on its target: the update went through but
 * the process stopped before confirming it): recorded and announced as the rollback it was.
 */
export async function recordLanded(
  rt: WatchRuntime,
  service: WatchedService,
  owed: OwedRollback,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  const open = rt.store.watches.open(service.key);
  const request: RollbackRequest = {
    service: service.key,
    trigger: owed.trigger,
    reason: owed.reason,
    rule: owed.rule,
    decidedAt: owed.decidedAt,
    watch: open && open.id === owed.watchId ? open : undefined,
  };
  const plan: UpdatePlan = {
    kind: 'update',
    to: owed.to,
    from: owed.from,
    traffic: trafficTo(owed.to, observation.traffic),
  };
  const base = eventBase(rt, service, request, plan);
  record(rt, service, request, plan, observation, true);
  const probe = await probeAgain(rt, service, observation, signal);
  const restorePoint = await restoreReportOrUnknown(rt, service, request.watch ?? null, signal);
  rt.events.emit('rollback:completed', {
    ...base,
    at: rt.clock(),
    restorePoint,
    confirmed: true,
    probe,
    durationMs: rt.clock() - owed.decidedAt,
  });
  rt.logger.info({ service: service.key, to: owed.to, from: owed.from }, 'an owed rollback had taken effect');
}

async function confirm(
  rt: WatchRuntime,
  service: WatchedService,
  to: string,
  after: ServiceObservation,
  signal: AbortSignal,
): Promise<{ ok: boolean; observation: ServiceObservation }> {
  const allOn = (observation: ServiceObservation) => servingOf(observation.traffic)[to] === 100;
  let observation = after;
  // Read back from Cloud Run: the operation said done, trafficStatuses must say so too.
  for (let poll = 0; poll < 8; poll += 1) {
    observation = await rt.cloudRun.getService(service.ref, signal);
    if (allOn(observation)) return { ok: true, observation };
    await sleep(Math.min(2_000, 50 * 2 ** poll), signal);
  }
  return { ok: false, observation };
}

async function probeAgain(
  rt: WatchRuntime,
  service: WatchedService,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<RollbackCompletedEvent['probe']> {
  if (!observation.uri) return null;
  const result = await probeWithIdentity(
    rt,
    service,
    new URL(service.config.health_path, observation.uri).toString(),
    observation.uri,
    signal,
  );
  return { ok: result.ok, status: result.status, error: result.error };
}

function record(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: UpdatePlan,
  after: ServiceObservation,
  confirmed: boolean,
): void {
  const now = rt.clock();
  rt.store.transaction(() => {
    // Confirmed traffic settles whatever the service owed: this rollback, or an older one it overtook.
    if (confirmed) rt.store.owed.clearService(service.key);
    for (const revision of plan.from)
      rt.store.revisions.mark(service.key, revision, 'bad', `rolled back from (${request.reason})`, now);
    const open = rt.store.watches.open(service.key);
    if (open && plan.from.includes(open.candidate))
      rt.store.watches.end(open.id, 'rolled_back', request.reason, now);
    if (!byPerson(request.trigger)) rt.store.services.setLastAutoRollback(service.key, now);
    if (confirmed) noteRolledBackTo(rt, service, plan.to, now);
    rt.store.services.saveSnapshot(service.key, snapshotOf(after), now);
  });
  rt.live.of(service.key).observation = after;
}

/**
 * A known good revision traffic went back to: listed again (a rollback target opens no rollback
 * window, see core/known-good.ts) and, when it is not the stable one (a rollback after a
 * promotion), made stable, so the next poll does not take it for a new deploy to watch. A revision
 * never known good (a person's --to) is left to the watch, as before.
 */
function noteRolledBackTo(rt: WatchRuntime, service: WatchedService, to: string, now: number): void {
  if (!rt.store.knownGood.has(service.key, to)) return;
  rt.store.knownGood.append(service.key, to, 'rolled_back_to', now);
  if (rt.store.services.get(service.key)?.stableRevision !== to)
    rt.store.services.setStable(service.key, to, 'rolled back to', now);
}

/**
 * Announces rollback:failed, always: a failure to act must be heard even when the store fails too
 * (a full or broken disk is often why). What only the store knows (the stable revision, the open
 * watch, the restore point) is then taken from the request, or said to be unknown.
 */
async function fail(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: UpdatePlan,
  announced: Promise<RestorePointReport> | undefined,
  error: unknown,
  signal: AbortSignal,
): Promise<void> {
  const message = errorMessage(error);
  rt.logger.error({ service: service.key, err: message }, 'rollback failed');
  let base: Omit<RollbackEventBase, 'restorePoint'>;
  try {
    base = eventBase(rt, service, request, plan);
  } catch (storeError) {
    rt.logger.error(
      { service: service.key, err: errorMessage(storeError) },
      'rollback failed: store unreadable',
    );
    base = eventBaseOf(rt, service, request, plan, request.watch ?? null, request.watch?.stable ?? null);
  }
  const restorePoint = await (announced ??
    restoreReportOrUnknown(rt, service, request.watch ?? null, signal));
  rt.events.emit('rollback:failed', {
    ...base,
    at: rt.clock(),
    restorePoint,
    error: { code: error instanceof RunwardenError ? error.code : 'RW_FAILED', message },
  });
}

function eventBase(rt: WatchRuntime, service: WatchedService, request: RollbackRequest, plan: UpdatePlan) {
  const memory = rt.store.memory(service.key);
  return eventBaseOf(rt, service, request, plan, request.watch ?? memory.watch, memory.stable);
}

function eventBaseOf(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: UpdatePlan,
  watch: WatchRecord | null,
  stable: string | null,
) {
  return {
    service: service.key,
    candidate: watch?.candidate ?? plan.from[0] ?? null,
    stable,
    rule: request.rule ?? null,
    reason: request.reason,
    watchId: watch?.id ?? null,
    at: rt.clock(),
    dryRun: false,
    trigger: request.trigger,
    from: plan.from,
    to: plan.to,
  };
}

function sameRevisions(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((revision) => b.includes(revision));
}
