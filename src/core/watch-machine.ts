import type { RuleEvaluation } from './rules.js';
import type { InsufficientDataPolicy, WatchState, WatchStatus } from './watch-types.js';

/**
 * The deploy-watch state machine's judgement: given this tick's rule verdicts for the candidate,
 * what happens to the watch. Pure; `now` passed in. Refusals that depend on the service (no stable
 * revision, cooldown) are decided by the rollback plan, which every rollback goes through.
 *
 *   watching --rollback rule unhealthy--> rollback (or hold while frozen)
 *   watching --deadline, clean--> promote
 *   watching --deadline, insufficient data--> keep waiting | end inconclusive | rollback
 *   watching --deadline, tripped but never rolled back--> end failed (never promoted)
 *
 * A rule whose verdict is auth_failed (the probes' own credentials were refused) never trips; it is
 * announced once and, at the deadline, counts as missing data, except that it never rolls back:
 * wrong credentials are not evidence against the candidate (rollback_at_deadline ends inconclusive).
 */
export interface JudgePolicy {
  insufficientData: InsufficientDataPolicy;
  frozen: boolean;
}

export type JudgementKind = 'keep_watching' | 'rollback' | 'promote' | 'end' | 'hold';

export interface Judgement {
  kind: JudgementKind;
  /** For `end`: how the watch ends. */
  endStatus?: Extract<WatchStatus, 'inconclusive' | 'failed'>;
  /** Why, in one line a person reads. */
  reason: string;
  /** The rollback rules that tripped this tick (empty unless kind is rollback or hold). */
  trips: RuleEvaluation[];
  /** Alert-only rules that tripped and were not announced yet in this watch. */
  alerts: RuleEvaluation[];
  /** Rollback rules short of data at the deadline, to announce once; empty otherwise. */
  insufficient: RuleEvaluation[];
  /** What a frozen service would have done. */
  wouldDo?: 'rollback' | 'promote';
  /** Rules whose probes' credentials were refused, not announced yet in this watch. */
  authFailed: RuleEvaluation[];
}

export function alertKey(rule: string): string {
  return `alert:${rule}`;
}

export const INSUFFICIENT_KEY = 'insufficient';
export const FROZEN_KEY = 'hold:frozen';
export const AUTH_FAILED_KEY = 'auth_failed';

export function judge(
  watch: WatchState,
  evaluations: readonly RuleEvaluation[],
  now: number,
  policy: JudgePolicy,
): Judgement {
  const trips = evaluations.filter((entry) => entry.action === 'rollback' && entry.verdict === 'unhealthy');
  const alerts = evaluations.filter(
    (entry) =>
      entry.action === 'alert' &&
      entry.verdict === 'unhealthy' &&
      !watch.announced.includes(alertKey(entry.rule)),
  );
  const refused = evaluations.filter((entry) => entry.verdict === 'auth_failed');
  const authFailed = watch.announced.includes(AUTH_FAILED_KEY) ? [] : refused;
  const none = { trips: [], alerts, insufficient: [], authFailed };
  if (trips.length > 0) {
    const reason = trips.map((entry) => `${entry.rule}: ${entry.detail}`).join('; ');
    return policy.frozen
      ? {
          kind: 'hold',
          reason: `frozen; would roll back (${reason})`,
          trips,
          alerts,
          insufficient: [],
          wouldDo: 'rollback',
          authFailed,
        }
      : { kind: 'rollback', reason, trips, alerts, insufficient: [], authFailed };
  }
  if (now < watch.deadline) return { kind: 'keep_watching', reason: 'watch window still open', ...none };
  if (watch.tripped.length > 0) {
    return {
      kind: 'end',
      endStatus: 'failed',
      reason: `rules ${watch.tripped.join(', ')} tripped during the watch and no rollback was made`,
      ...none,
    };
  }
  if (policy.frozen) return { kind: 'hold', reason: 'frozen; would promote', ...none, wouldDo: 'promote' };
  const short = evaluations.filter(
    (entry) =>
      entry.action === 'rollback' &&
      (entry.verdict === 'insufficient_data' || entry.verdict === 'auth_failed'),
  );
  if (short.length === 0) return { kind: 'promote', reason: 'watch window passed clean', ...none };
  const missing = short
    .map((entry) => `${entry.rule}: ${entry.verdict === 'auth_failed' ? 'auth_failed, ' : ''}${entry.detail}`)
    .join('; ');
  const insufficient = watch.announced.includes(INSUFFICIENT_KEY) ? [] : short;
  const byCredentials = short.some((entry) => entry.verdict === 'auth_failed');
  if (policy.insufficientData === 'rollback_at_deadline' && byCredentials)
    return {
      kind: 'end',
      endStatus: 'inconclusive',
      reason: `insufficient data at the deadline, not rolled back: the probes' credentials were refused (${missing})`,
      trips: [],
      alerts,
      insufficient: short,
      authFailed,
    };
  switch (policy.insufficientData) {
    case 'keep_waiting':
      return {
        kind: 'keep_watching',
        reason: `insufficient data, waiting (${missing})`,
        trips: [],
        alerts,
        insufficient,
        authFailed,
      };
    case 'alert':
      return {
        kind: 'end',
        endStatus: 'inconclusive',
        reason: `insufficient data at the deadline (${missing})`,
        trips: [],
        alerts,
        insufficient: short,
        authFailed,
      };
    case 'rollback_at_deadline':
      return {
        kind: 'rollback',
        reason: `insufficient data at the deadline (${missing})`,
        trips: [],
        alerts,
        insufficient: short,
        authFailed,
      };
  }
}
