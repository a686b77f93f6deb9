import { FatalError } from './errors.js';
import { formatDuration } from './duration.js';
import { type CalendarPeriod, calendarBucketer } from './calendar.js';

/**
 * Which backups to keep, with restic's `forget` semantics, decided from data alone: no I/O and no
 * clock. Every period counts back from the newest VERIFIED backup, so a week of failed runs, a
 * stopped daemon or a wrong wall clock never makes good backups age out.
 */

/**
 * Only `verified` backups take part in retention. The others are never counted as keepers (they
 * neither fill a `keep_last` slot nor claim a period) and are never deleted by retention either:
 * an unverified archive may still be good, a failed one is evidence to inspect, a partial file is
 * not a backup at all.
 */
export type BackupStatus = 'verified' | 'unverified' | 'failed' | 'partial';

/** What retention needs to know of a backup; callers pass their own rows (extra fields are kept). */
export interface RetentionCandidate {
  /** When the backup was taken, ms since the epoch (the snapshot time, not the file's mtime). */
  readonly time: number;
  readonly status: BackupStatus;
}

/**
 * restic's keep options. Counts are whole numbers >= 0, or -1 (as in the config) or Infinity for
 * "unlimited"; 0 or absent means the rule is off. `keep_within` is in ms (0 or absent: off). A policy with every rule off is
 * empty and keeps everything, as restic does.
 */
export interface RetentionPolicy {
  keep_within?: number;
  keep_last?: number;
  keep_hourly?: number;
  keep_daily?: number;
  keep_weekly?: number;
  keep_monthly?: number;
  keep_yearly?: number;
  /** IANA time zone whose calendar defines hours, days, (ISO) weeks, months and years; default UTC. */
  timezone?: string;
}

export interface RetentionDecision<T> {
  backup: T;
  keep: boolean;
  /** Why it is kept (e.g. 'within 7d', 'daily 2026-11-27', 'last 3', 'newest verified'); empty when deleted. */
  reasons: string[];
}

const PERIOD_RULES = [
  ['keep_hourly', 'hourly', 'hour'],
  ['keep_daily', 'daily', 'day'],
  ['keep_weekly', 'weekly', 'week'],
  ['keep_monthly', 'monthly', 'month'],
  ['keep_yearly', 'yearly', 'year'],
] as const satisfies ReadonlyArray<readonly [keyof RetentionPolicy, string, CalendarPeriod]>;

const COUNT_KEYS = ['keep_last', ...PERIOD_RULES.map(([key]) => key)] as const;

/** True when no rule is on: such a policy deletes nothing. */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return !(policy.keep_within ?? 0) && COUNT_KEYS.every((key) => !(policy[key] ?? 0));
}

/**
 * Decides keep or delete for every backup, newest first (ties keep their input order). Throws a
 * FatalError (code RW_RETENTION_POLICY) naming the option when a count is negative or fractional,
 * a duration is negative, or the time zone is unknown; never returns a half-checked plan.
 *
 * Rules, OR'd: `keep_within` keeps every verified backup newer than (newest verified - duration);
 * `keep_last n` the n newest verified; `keep_<period> n` the newest verified backup of each of the
 * n most recent calendar periods that have a verified backup. When a period rule still has counts
 * left after the oldest verified backup, that oldest one is kept too ('oldest daily'), as restic
 * 0.17+ does, so a young history is not thinned. The newest verified backup is always kept.
 */
export function planRetention<T extends RetentionCandidate>(
  backups: readonly T[],
  policy: RetentionPolicy,
): RetentionDecision<T>[] {
  checkPolicy(policy);
  const ordered = backups
    .map((backup, index) => ({ backup, index }))
    .sort((a, b) => b.backup.time - a.backup.time || a.index - b.index)
    .map(({ backup }) => backup);
  const decisions = ordered.map((backup) => ({ backup, keep: false, reasons: [] as string[] }));
  const verified = decisions.filter((decision) => decision.backup.status === 'verified');

  for (const decision of decisions) {
    if (decision.backup.status === 'verified') continue;
    decision.keep = true;
    decision.reasons.push(`${decision.backup.status}: retention only deletes verified backups`);
  }
  if (verified.length === 0) return decisions;

  if (isEmptyPolicy(policy)) {
    for (const decision of verified) keepFor(decision, 'policy is empty');
    return decisions;
  }

  const newest = verified[0] as (typeof verified)[number];
  const within = policy.keep_within ?? 0;
  if (within > 0) {
    const cutoff = newest.backup.time - within;
    for (const decision of verified) {
      // Strictly newer than the cutoff, like restic: one exactly `within` older falls out.
      if (decision.backup.time > cutoff) keepFor(decision, `within ${formatWithin(within)}`);
    }
  }

  const last = countOf(policy.keep_last);
  verified.slice(0, last).forEach((decision) => {
    keepFor(decision, `last ${Number.isFinite(last) ? last : 'unlimited'}`);
  });

  for (const [key, label, period] of PERIOD_RULES) {
    let left = countOf(policy[key]);
    if (left === 0) continue;
    const bucketOf = calendarBucketer(period, policy.timezone ?? 'UTC');
    let previous: string | undefined;
    for (const decision of verified) {
      if (left === 0) break;
      const bucket = bucketOf(decision.backup.time);
      if (bucket === previous) continue;
      previous = bucket;
      left -= 1;
      keepFor(decision, `${label} ${bucket}`);
    }
    const oldest = verified.at(-1) as (typeof verified)[number];
    if (left > 0 && !oldest.reasons.some((reason) => reason.startsWith(`${label} `))) {
      keepFor(oldest, `oldest ${label}`);
    }
  }

  if (!newest.keep) keepFor(newest, 'newest verified');
  else newest.reasons.push('newest verified');
  return decisions;
}

/** Whole days as days ("7d", as restic and the guide write it), anything else as exact text. */
export function formatWithin(ms: number): string {
  const day = 86_400_000;
  return ms % day === 0 ? `${ms / day}d` : formatDuration(ms);
}

/** restic and the config write "unlimited" as -1. */
function countOf(value: number | undefined): number {
  return value === -1 ? Number.POSITIVE_INFINITY : (value ?? 0);
}

function keepFor(decision: { keep: boolean; reasons: string[] }, reason: string): void {
  decision.keep = true;
  decision.reasons.push(reason);
}

function checkPolicy(policy: RetentionPolicy): void {
  for (const key of COUNT_KEYS) {
    const value = policy[key];
    if (value === undefined || value === -1 || value === Number.POSITIVE_INFINITY) continue;
    if (!Number.isInteger(value) || value < 0) {
      throw new FatalError(
        'RW_RETENTION_POLICY',
        `retention ${key}: expected a whole number >= 0, or -1 for unlimited, got ${value}`,
      );
    }
  }
  const within = policy.keep_within;
  if (within !== undefined && !(Number.isFinite(within) && within >= 0)) {
    throw new FatalError(
      'RW_RETENTION_POLICY',
      `retention keep_within: expected a duration >= 0 in ms, got ${within}`,
    );
  }
  // Building a bucketer checks the zone name now, before any decision is made.
  calendarBucketer('day', policy.timezone ?? 'UTC');
}
