import type { PersonTrigger, RollbackRefusal, RollbackTrigger } from './rollback-plan.js';
import { FROZEN_KEY } from './watch-machine.js';
import { servingOf, type TrafficEntry, type WatchStatus } from './watch-types.js';

/**
 * An owed rollback: an automatic rollback that was decided and sent to Cloud Run but whose traffic
 * change was not confirmed (the daemon was stopped mid-update, the API kept failing...). It is
 * stored before UpdateService and settled only by a confirmed change or a person's change, so
 * the next tick (or the next start) finishes it even when the errors that caused it have aged out
 * of the rule windows. Pure decisions; times are ms since the epoch.
 */
export interface OwedRollback {
  /** Row id; a newer decision for the same service replaces the row with a new id. */
  id: number;
  trigger: Exclude<RollbackTrigger, PersonTrigger>;
  /** Where all traffic was being sent. */
  to: string;
  /** The revisions that served traffic when it was decided (the ones being rolled back from). */
  from: string[];
  /** The watch that decided it (trigger `watch`); null for an alert outside a watch. */
  watchId: number | null;
  reason: string;
  rule: string | null;
  decidedAt: number;
  /** Things already said about it (`hold:frozen`, `refused:<reason>`), each said once. */
  announced: string[];
}

/** What the store and Cloud Run say now, beside the owed rollback itself. */
export interface OwedContext {
  frozen: boolean;
  /** The status of the watch that decided it; null when it had none or the watch is gone. */
  watchStatus: WatchStatus | null;
  /** The service's traffic as just read. */
  traffic: readonly TrafficEntry[];
}

export type OwedStep =
  /** Still owed and nothing stands in the way: carry it out through the one rollback path. */
  | { kind: 'carry_out' }
  /** Frozen: no automatic action; it stays owed. `announce`: say so (once per owed rollback). */
  | { kind: 'hold'; reason: string; announce: boolean }
  /** Traffic is all on the target already (the update went through but was never confirmed): record it. */
  | { kind: 'landed'; reason: string }
  /** Someone changed the service or ended the watch since: their change stands, the debt is dropped. */
  | { kind: 'superseded'; reason: string };

/**
 * What to do about an owed rollback, checked first on every tick. The same rules as an etag
 * conflict in the rollback path: only when the revisions serving are exactly the ones it rolls back
 * from is it carried out; any other traffic is someone's deliberate change and is never clobbered.
 * The cooldown does not apply (this is the same incident, already decided); a freeze does.
 */
export function decideOwedRollback(owed: OwedRollback, context: OwedContext): OwedStep {
  if (owed.watchId !== null && context.watchStatus !== null && context.watchStatus !== 'watching')
    return {
      kind: 'superseded',
      reason: `the watch that decided it was ended (${context.watchStatus}) meanwhile`,
    };
  const serving = servingOf(context.traffic);
  const others = Object.keys(serving).filter((revision) => revision !== owed.to);
  if (others.length === 0 && serving[owed.to] === 100)
    return { kind: 'landed', reason: `traffic is all on ${owed.to}: the rollback took effect` };
  if (!sameRevisions(others, owed.from)) {
    const now = Object.entries(serving)
      .map(([revision, percent]) => `${revision} ${percent}%`)
      .join(', ');
    return {
      kind: 'superseded',
      reason: `traffic changed meanwhile (now serving ${now || 'nothing'}); not overwritten`,
    };
  }
  if (context.frozen)
    return {
      kind: 'hold',
      reason: `frozen; a rollback to ${owed.to} is owed and waits until the service is unfrozen`,
      announce: !owed.announced.includes(FROZEN_KEY),
    };
  return { kind: 'carry_out' };
}

/** Refusals after which the rollback can never be carried out as decided: the debt is dropped. */
const FINAL_REFUSALS: ReadonlySet<RollbackRefusal> = new Set(['stale', 'target_bad', 'no_stable']);

/**
 * Whether a rollback attempt's outcome settles what is owed: a confirmed change, traffic already on
 * the target, or a refusal that is final. A failure, an unconfirmed change, a freeze, a busy lease or
 * a dry run leave it owed, to be tried again on the next tick.
 */
export function settlesOwed(outcome: {
  kind: 'rolled_back' | 'dry_run' | 'noop' | 'refused';
  confirmed?: boolean;
  reason?: RollbackRefusal;
}): boolean {
  switch (outcome.kind) {
    case 'rolled_back':
      return outcome.confirmed === true;
    case 'noop':
      return true;
    case 'refused':
      return outcome.reason !== undefined && FINAL_REFUSALS.has(outcome.reason);
    case 'dry_run':
      return false;
  }
}

function sameRevisions(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((revision) => b.includes(revision));
}
