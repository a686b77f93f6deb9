import { planRetention, type RetentionPolicy } from './retention.js';

/**
 * Retention of the off-site copies, decided from data alone (no I/O, `now` passed in). The rules are
 * the local ones (planRetention: restic's keep options, anchored on the newest good backup); only
 * what counts as good changes: a copy takes part only when it is confirmed.
 */

/** An object in the bucket that holds an archive, as the caller found it listed. */
export interface RemoteCopy {
  /** Object name (as the store lists it). */
  readonly name: string;
  /** The generation listed: deletions are made with ifGenerationMatch on it. */
  readonly generation: number;
  /** When the archive was taken, ms since the epoch: from the archive's name, not the upload time. */
  readonly time: number;
  /**
   * The catalog records this name AND this generation as confirmed (size and CRC32C read back
   * matched the local archive). A replaced object (another generation) is not confirmed.
   */
  readonly confirmed: boolean;
}

export interface RemoteRetentionDecision<T extends RemoteCopy> {
  copy: T;
  keep: boolean;
  /** Why it is kept ('within 30d', 'daily 2026-11-27', 'newest confirmed', 'unconfirmed: ...'); empty when deleted. */
  reasons: string[];
}

export interface RemoteRetentionOptions {
  /**
   * A copy dated more than this after `now` (a machine with a wrong clock named it) is neither a
   * keeper nor deleted: trusted, it would anchor every rule in the future and let the real recent
   * copies age out. 1 hour by default.
   */
  futureToleranceMs?: number;
}

/** Why a copy that retention may not judge is kept. */
export const UNCONFIRMED_REASON = 'unconfirmed: retention only deletes confirmed copies';
export const FUTURE_REASON = 'dated in the future: retention neither counts nor deletes it';

/**
 * Decides keep or delete for every remote copy, newest first. Floors: the newest confirmed copy is
 * always kept; unconfirmed copies (and copies dated past now + tolerance) never fill a rule and are
 * never deleted. Throws FatalError RW_RETENTION_POLICY for a bad policy (as planRetention does).
 */
export function planRemoteRetention<T extends RemoteCopy>(
  copies: readonly T[],
  policy: RetentionPolicy,
  now: number,
  options: RemoteRetentionOptions = {},
): RemoteRetentionDecision<T>[] {
  const latest = now + (options.futureToleranceMs ?? 3_600_000);
  const candidates = copies.map((copy) => ({
    copy,
    time: copy.time,
    status: copy.confirmed && copy.time <= latest ? ('verified' as const) : ('unverified' as const),
  }));
  return planRetention(candidates, policy).map(({ backup, keep, reasons }) => ({
    copy: backup.copy,
    keep,
    reasons:
      backup.status === 'verified'
        ? reasons.map((reason) => (reason === 'newest verified' ? 'newest confirmed' : reason))
        : [backup.copy.confirmed ? FUTURE_REASON : UNCONFIRMED_REASON],
  }));
}

/** The deletions of a plan, each to be made with ifGenerationMatch on its generation. */
export function remoteDeletions<T extends RemoteCopy>(
  decisions: readonly RemoteRetentionDecision<T>[],
): Array<Pick<T, 'name' | 'generation'>> {
  return decisions
    .filter((decision) => !decision.keep)
    .map(({ copy }) => ({ name: copy.name, generation: copy.generation }));
}
