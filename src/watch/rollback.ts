import { settlesOwed } from '../core/owed-rollback.js';
import { byPerson, type RollbackPlan } from '../core/rollback-plan.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { inTurn, releaseActionLease, takeActionLease } from './action-lease.js';
import { executeRollback, recordNoop } from './rollback-execute.js';
import { planFor } from './rollback-plan-for.js';
import type { RollbackOutcome, RollbackRequest } from './rollback-request.js';
import { restoreReportOrUnknown } from './restore-points.js';
import { schemaGateFor } from './schema-gate-for.js';
import type { WatchRuntime } from './watch-runtime.js';
import { findService, type WatchedService } from './watched-service.js';

/**
 * The one rollback path: the watch, the alert receivers and `runwarden rollback` all come through
 * here, so refusals (frozen, no known good revision, bad target, cooldown), the action lease and the
 * etag precondition apply the same way to all. The fast path (the watch passes the service it just
 * read) reaches UpdateService after a few SQLite reads and two writes (the lease, the owed row): no
 * network round trip. An automatic rollback stays recorded as owed until its change is confirmed.
 */
export async function requestRollback(
  rt: WatchRuntime,
  request: RollbackRequest,
  signal: AbortSignal,
): Promise<RollbackOutcome> {
  // One traffic change of a service at a time in this process: each decides on what the last left.
  // Counted while it runs: the daemon checkpoints its store's WAL only when none is (idle-checkpoints.ts).
  rt.live.rollbacksRunning += 1;
  let outcome: RollbackOutcome;
  try {
    outcome = await inTurn(rt, request.service, () => decideAndAct(rt, request, signal));
  } finally {
    rt.live.rollbacksRunning -= 1;
  }
  // Finishing an owed rollback: a final outcome settles it (a confirmed change already did, in record()).
  if (request.owed && settlesOwed(outcome)) rt.store.owed.clear(request.owed.id);
  return outcome;
}

async function decideAndAct(
  rt: WatchRuntime,
  request: RollbackRequest,
  signal: AbortSignal,
): Promise<RollbackOutcome> {
  const service = findService(rt.services, request.service);
  const dryRun = request.dryRun === true || service.config.mode === 'dry-run';
  const { observation, plan, cached } = await decideOn(rt, service, request, signal);
  if (plan.kind === 'refused') return refuse(rt, service, request, plan, dryRun);
  if (plan.kind === 'update') {
    const gate = await schemaGateFor(rt, service, request, plan, signal);
    if (gate.kind === 'alert')
      return refuse(
        rt,
        service,
        request,
        { kind: 'refused', to: plan.to, reason: 'schema_changed', detail: gate.detail },
        dryRun,
      );
  }
  if (dryRun) return dryRunOf(rt, service, request, plan, signal);
  // A standby decides like the leader (it stays warm) but acts only once it leads: no owed row, no
  // announcement, no traffic change. A person's rollback is theirs to make on any runwarden.
  if (!byPerson(request.trigger) && !rt.leadership.mayAct()) {
    rt.logger.info({ service: service.key, to: plan.to }, 'not the leader: rollback left to the leader');
    return {
      kind: 'refused',
      reason: 'standby',
      detail: 'this runwarden does not hold the watch lease',
      to: plan.to,
    };
  }
  const blocker = takeActionLease(rt, service.key);
  if (blocker !== null)
    return refuse(
      rt,
      service,
      request,
      {
        kind: 'refused',
        to: plan.to,
        reason: 'busy',
        detail: `${blocker} is changing ${service.key} right now; this will be decided again`,
      },
      dryRun,
    );
  try {
    // Decided again under the lease: a person may have promoted, frozen or rolled back meanwhile.
    const fresh = planFor(rt, service, request, observation);
    const stale = staleWatch(rt, request.watch);
    if (stale)
      return refuse(
        rt,
        service,
        request,
        { kind: 'refused', to: plan.to, reason: 'stale', detail: stale },
        dryRun,
      );
    if (fresh.kind === 'refused') return refuse(rt, service, request, fresh, dryRun);
    if (fresh.kind === 'noop') return recordNoop(rt, service, request, fresh.to);
    // Durable before UpdateService: if this process stops before the change is confirmed, the next
    // tick (or start) still owes it, even once the errors that caused it have aged out.
    const owedId = request.owed ? null : recordOwed(rt, service, request, fresh);
    const outcome = await executeRollback(rt, service, request, fresh, observation, signal, { cached });
    if (owedId !== null && settlesOwed(outcome)) rt.store.owed.clear(owedId);
    return outcome;
  } finally {
    releaseActionLease(rt, service.key);
  }
}

/**
 * The service to decide on: the one the caller just read (`known`), else the daemon's last poll
 * of it (an alert then reaches UpdateService with no read first; the poll's etag makes that safe,
 * since Cloud Run refuses a stale one and executeRollback then reads and decides again), else a
 * read. A last poll is trusted only to act: when it says there is nothing to do or the rollback
 * is refused, the service may have changed since (a deploy the alert is about), so it is read.
 */
async function decideOn(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  signal: AbortSignal,
) {
  const last = request.known ? null : rt.live.of(service.key).observation;
  if (last) {
    const plan = planFor(rt, service, request, last);
    if (plan.kind === 'update') return { observation: last, plan, cached: true };
  }
  const observation = request.known ?? (await rt.cloudRun.getService(service.ref, signal));
  return { observation, plan: planFor(rt, service, request, observation), cached: false };
}

/** Records an automatic rollback as owed until settled; a person's rollback is not (they see it fail). */
function recordOwed(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: Extract<RollbackPlan, { kind: 'update' }>,
): number | null {
  if (byPerson(request.trigger)) return null;
  const now = rt.clock();
  return rt.store.owed.record({
    service: service.key,
    trigger: request.trigger,
    to: plan.to,
    from: plan.from,
    watchId: request.watch?.id ?? null,
    reason: request.reason,
    rule: request.rule ?? null,
    decidedAt: request.decidedAt ?? now,
    recordedAt: now,
  });
}

function staleWatch(rt: WatchRuntime, watch: WatchRecord | undefined): string | null {
  if (!watch) return null;
  const now = rt.store.watches.get(watch.id);
  return now?.status === 'watching'
    ? null
    : `the watch of ${watch.candidate} was ended (${now?.status}) meanwhile`;
}

function refuse(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: Extract<RollbackPlan, { kind: 'refused' }>,
  dryRun: boolean,
): RollbackOutcome {
  rt.logger.warn({ service: service.key, refusal: plan.reason, detail: plan.detail }, 'rollback refused');
  if (request.announceRefusal?.(plan.reason) ?? true) {
    const memory = rt.store.memory(service.key);
    const watch = request.watch ?? memory.watch;
    rt.events.emit('rollback:refused', {
      service: service.key,
      candidate: watch?.candidate ?? null,
      stable: memory.stable,
      rule: request.rule ?? null,
      reason: `${request.reason}; not rolled back: ${plan.detail}`,
      watchId: watch?.id ?? null,
      at: rt.clock(),
      dryRun,
      trigger: request.trigger,
      refusal: plan.reason,
      to: plan.to,
    });
  }
  return { kind: 'refused', reason: plan.reason, detail: plan.detail, to: plan.to };
}

async function dryRunOf(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: Extract<RollbackPlan, { kind: 'update' | 'noop' }>,
  signal: AbortSignal,
): Promise<RollbackOutcome> {
  if (plan.kind === 'noop') return { kind: 'noop', to: plan.to };
  const memory = rt.store.memory(service.key);
  const watch = request.watch ?? memory.watch;
  const base = {
    service: service.key,
    candidate: watch?.candidate ?? null,
    stable: memory.stable,
    rule: request.rule ?? null,
    reason: `dry run: would roll back (${request.reason})`,
    watchId: watch?.id ?? null,
    at: rt.clock(),
    dryRun: true,
    trigger: request.trigger,
    from: plan.from,
    to: plan.to,
    restorePoint: await restoreReportOrUnknown(rt, service, watch ?? null, signal),
  };
  rt.events.emit('rollback:started', base);
  rt.events.emit('rollback:completed', { ...base, confirmed: false, probe: null, durationMs: 0 });
  return { kind: 'dry_run', to: plan.to, from: plan.from };
}
