import type { AlertSource } from '../core/alert.js';

/** What the receivers ask of the daemon's one rollback path. */
export interface AlertRollbackRequest {
  /** The service's runwarden name. */
  service: string;
  /** One line for history and notifications, naming the alert. */
  reason: string;
  /** Decide and announce, but leave traffic alone. */
  dryRun: boolean;
  /** The alert that triggered it, recorded with the rollback. */
  alert: {
    source: AlertSource;
    fingerprint: string;
    name: string;
    labels: Readonly<Record<string, string>>;
  };
}

export type AlertRollbackResult =
  /** Traffic now goes 100 % to `to`. */
  | { kind: 'rolled_back'; to: string; from: string[] }
  /** A dry run: this is what would have been done. */
  | { kind: 'dry_run'; to: string; from: string[] }
  /** Traffic already goes to `to`; nothing to do. */
  | { kind: 'noop'; to: string }
  /** The rollback path said no (cooldown, frozen, no known good revision, ...); `reason` is its code. */
  | { kind: 'refused'; reason: string; detail: string };

/**
 * The rollback entry point the alert receivers call: the same path the deploy watch uses, with the
 * trigger recorded as "alert". Resolves with what was done or why not; rejects only when the attempt
 * failed (Cloud Run error, timeout, abort), so the caller may let the sender retry.
 */
export interface AlertRollbackPort {
  rollback(request: AlertRollbackRequest, signal: AbortSignal): Promise<AlertRollbackResult>;
}
