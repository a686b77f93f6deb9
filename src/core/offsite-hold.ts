import type { RetentionDecision } from './retention.js';

/**
 * The rule that keeps local retention from deleting the only copy of an archive: with off-site
 * copies configured, an archive is deleted locally only once its copy in the bucket is confirmed.
 * Pure: the caller says what the catalog knows.
 */

/** What the catalog knows of an archive's off-site copy. */
export interface OffsiteStatus {
  /** When its copy was confirmed (ms since the epoch); undefined: not (yet) confirmed. */
  confirmedAt?: number;
}

/** Logged (and shown by `prune --dry-run`) for an archive kept for this rule. */
export const NOT_OFFSITE_REASON =
  'not confirmed off-site yet: kept until its copy in the bucket is confirmed';

/**
 * Undefined when local retention may delete the archive; else the reason to keep it (to log). With
 * off-site copies off, the rule never holds anything.
 */
export function localDeletionHold(
  offsiteConfigured: boolean,
  status: OffsiteStatus | undefined,
): string | undefined {
  if (!offsiteConfigured) return undefined;
  return status?.confirmedAt === undefined ? NOT_OFFSITE_REASON : undefined;
}

/**
 * A local retention plan with the rule applied: every decision to delete an archive that the rule
 * holds becomes a keep, with the reason. Decisions to keep are unchanged. Returns new decisions.
 */
export function holdUnconfirmed<T>(
  decisions: readonly RetentionDecision<T>[],
  offsiteConfigured: boolean,
  statusOf: (backup: T) => OffsiteStatus | undefined,
): RetentionDecision<T>[] {
  return decisions.map((decision) => {
    if (decision.keep) return { ...decision, reasons: [...decision.reasons] };
    const hold = localDeletionHold(offsiteConfigured, statusOf(decision.backup));
    return hold === undefined ? { ...decision, reasons: [] } : { ...decision, keep: true, reasons: [hold] };
  });
}
