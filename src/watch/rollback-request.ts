import type { OwedRollback } from '../core/owed-rollback.js';
import type { RollbackRefusal, RollbackTrigger } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';

/** A request to send a service's traffic back: from a watch, an alert, or a person. */
export interface RollbackRequest {
  /** The service's runwarden name. */
  service: string;
  trigger: RollbackTrigger;
  /** One line for history and notifications. */
  reason: string;
  /** The rule that tripped, when a rule did. */
  rule?: string | null | undefined;
  /** A specific revision to go back to (manual only in practice); else the last known good one. */
  toRevision?: string | undefined;
  /** Decide and announce, but change nothing. The service's `mode: dry-run` implies it. */
  dryRun?: boolean | undefined;
  /** When the decision was made (ms); the completed event reports the time from it to the confirmed change. */
  decidedAt?: number | undefined;
  /** The service as the caller just read it: saves a round trip on the fast path (the watch passes it). */
  known?: ServiceObservation | undefined;
  /** The watch that asked (the watch trigger passes it). */
  watch?: WatchRecord | undefined;
  /** Whether to announce a refusal with this reason (the watch announces each reason once). */
  announceRefusal?: ((refusal: RollbackRefusal) => boolean) | undefined;
  /**
   * Finishing this owed rollback (decided earlier, never confirmed): the cooldown does not apply,
   * and the stored debt is settled by the outcome instead of a new one being recorded.
   */
  owed?: OwedRollback | undefined;
}

/** What the rollback path did. Failures to change traffic reject instead (RetryableError / FatalError). */
export type RollbackOutcome =
  /** Traffic now goes 100 % to `to` (`confirmed`: trafficStatuses showed it). */
  | { kind: 'rolled_back'; to: string; from: string[]; confirmed: boolean }
  /** A dry run: this is what would have been done. */
  | { kind: 'dry_run'; to: string; from: string[] }
  /** Traffic already went 100 % to `to`. */
  | { kind: 'noop'; to: string }
  /** Not done, and why (a failure to act, announced as `rollback:refused`). */
  | { kind: 'refused'; reason: RollbackRefusal; detail: string; to: string | null };
