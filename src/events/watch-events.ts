import type { RollbackRefusal, RollbackTrigger } from '../core/rollback-plan.js';
import type { RuleEvaluation } from '../core/rules.js';
import type { InsufficientDataPolicy, WatchStatus } from '../core/watch-types.js';
import type { RestorePoint, RestorePointReport } from '../core/restore-point.js';

/**
 * Payloads of the deploy watch's events (names in event-bus.ts). Every payload says which service,
 * candidate and stable revision it is about, and why (`rule`, `reason`), so a notification or a
 * history line can be written from the payload alone. Times are ms since the epoch.
 */
export interface WatchEventBase {
  /** The service's runwarden name (config `name`, or its Cloud Run name). */
  service: string;
  /** The revision being judged; null when none is (e.g. an alert-triggered rollback outside a watch). */
  candidate: string | null;
  /** The last known good revision; null when none is known. */
  stable: string | null;
  /** The rule that caused this, or null when it was not a rule (a person, a deadline, a poll). */
  rule: string | null;
  /** One line a person reads. */
  reason: string;
  watchId: number | null;
  at: number;
  /** The service runs in dry-run mode (or the request asked for one): nothing was changed. */
  dryRun: boolean;
}

/** A rule's verdict, trimmed for events. */
export interface EvaluationSummary {
  rule: string;
  verdict: RuleEvaluation['verdict'];
  value: number | null;
  threshold: number;
  detail: string;
  window: RuleEvaluation['window'];
}

export interface WatchStartedEvent extends WatchEventBase {
  deadline: number;
  /** The watch that this one replaced (a newer deploy came), if any. */
  supersedes: number | null;
  restorePoint: RestorePoint;
}

export interface WatchEndedEvent extends WatchEventBase {
  status: Exclude<WatchStatus, 'watching' | 'promoted' | 'rolled_back'>;
}

export interface PromotionEvent extends WatchEventBase {
  /** watch: the window passed clean; manual: `runwarden promote`. */
  trigger: 'watch' | 'manual';
  /** The revision that was stable before. */
  previous: string | null;
}

export interface RuleAlertEvent extends WatchEventBase {
  rule: string;
  evaluation: EvaluationSummary;
}

export interface InsufficientDataEvent extends WatchEventBase {
  policy: InsufficientDataPolicy;
  rules: EvaluationSummary[];
}

/** Something runwarden should have done or checked and could not (a failure to act). */
export interface WatchFailureEvent extends WatchEventBase {
  /** What was being done: poll, metrics, probe, backup, promote... */
  operation: string;
  error: { code: string; message: string };
}

/** A frozen service, or the revision runwarden marked bad serving traffic: seen, not acted on. */
export interface WatchHeldEvent extends WatchEventBase {
  wouldDo: 'rollback' | 'promote' | null;
}

/** A tagged no-traffic candidate's test at its tag URL reached a verdict, or it cannot be tested. */
export interface CandidateEvent extends WatchEventBase {
  verdict: 'passed' | 'failed' | 'unreachable';
  /** What was found, in one line: answers in a row, smoke checks, or why it cannot be reached. */
  detail: string;
}

/** Automatic promotion moved traffic to the next release step (confirmed on Cloud Run). */
export interface ReleaseStepEvent extends WatchEventBase {
  /** 1-based step number, of `steps` in all. */
  step: number;
  steps: number;
  /** The candidate's percent of traffic at this step; the stable revision serves the rest. */
  percent: number;
}

export interface RollbackEventBase extends WatchEventBase {
  trigger: RollbackTrigger;
  /** Revisions that served traffic before. */
  from: string[];
  /** Where all the traffic goes. */
  to: string;
  restorePoint: RestorePointReport;
}

export interface RollbackCompletedEvent extends RollbackEventBase {
  /** trafficStatuses showed 100 % on `to` after the operation. */
  confirmed: boolean;
  /** The service URL probed after the rollback: healthy or not, and the status. */
  probe: { ok: boolean; status?: number | undefined; error?: string | undefined } | null;
  /** From the rule trip (or the request) to the confirmed traffic change. */
  durationMs: number;
}

export interface RollbackFailedEvent extends RollbackEventBase {
  error: { code: string; message: string };
}

export interface RollbackRefusedEvent extends WatchEventBase {
  trigger: RollbackTrigger;
  refusal: RollbackRefusal;
  to: string | null;
}

export function summarize(evaluation: RuleEvaluation): EvaluationSummary {
  return {
    rule: evaluation.rule,
    verdict: evaluation.verdict,
    value: evaluation.value,
    threshold: evaluation.threshold,
    detail: evaluation.detail,
    window: evaluation.window,
  };
}
