import { formatDuration } from './duration.js';

/**
 * The known-good history of a service as a list, and the decisions read from it: where a rollback
 * without a named target goes, and whether the revision serving now may still be rolled back by
 * itself (its rollback window). Pure; `now` passed in. Times are ms since the epoch.
 */

/** How a revision came to be known good: a baseline (`runwarden predeploy`), a promotion, or traffic rolled back to it. */
export type KnownGoodHow = 'baseline' | 'promoted' | 'rolled_back_to';

/** One entry of the list, oldest first; a revision can appear more than once. */
export interface KnownGoodEntry {
  revision: string;
  how: KnownGoodHow;
  at: number;
}

export interface TargetInput {
  /** Oldest first. */
  knownGood: readonly KnownGoodEntry[];
  /** The stable slot (the last known good revision when a watch started). */
  stable: string | null;
  /** A candidate is being watched: its rollback goes to the stable revision, as always. */
  watching: boolean;
  /** The revision serving all traffic now, or null when traffic is split or unknown. */
  serving: string | null;
  bad: ReadonlySet<string>;
}

/**
 * The default rollback target: during a watch, the stable revision; otherwise the newest known good
 * revision that is neither the one serving now nor marked bad (after a promotion: the one before);
 * when there is none, the stable revision.
 */
export function rollbackTarget(input: TargetInput): string | null {
  if (input.watching) return input.stable;
  const current = input.serving ?? input.stable;
  for (let index = input.knownGood.length - 1; index >= 0; index -= 1) {
    const entry = input.knownGood[index] as KnownGoodEntry;
    if (entry.revision !== current && !input.bad.has(entry.revision)) return entry.revision;
  }
  // Nothing earlier is known: the stable slot, as before the list existed (usually a no-op).
  return input.stable;
}

export type WindowState =
  | { open: true; promotedAt: number; closesAt: number }
  | {
      open: false;
      /** closed: past rollback_window; not_promoted: rolled back to, the baseline, or unknown. */
      why: 'closed' | 'not_promoted';
      detail: string;
    };

/**
 * Whether the serving revision's rollback window is open: only a promotion opens one, for
 * `windowMs` after it. The newest entry of the revision decides: a revision traffic was rolled back
 * to never opens one, so automatic rollbacks never walk back through history.
 */
export function rollbackWindow(
  knownGood: readonly KnownGoodEntry[],
  serving: string | null,
  now: number,
  windowMs: number,
): WindowState {
  const newest = serving === null ? undefined : knownGood.findLast((entry) => entry.revision === serving);
  if (!newest)
    return {
      open: false,
      why: 'not_promoted',
      detail: `${serving ?? 'no single revision'} is not known good`,
    };
  if (newest.how !== 'promoted') {
    const what =
      newest.how === 'rolled_back_to'
        ? `traffic was rolled back to ${serving}`
        : `${serving} is a baseline (known good before any watch of it promoted it)`;
    return { open: false, why: 'not_promoted', detail: `${what}; only a promotion opens a rollback window` };
  }
  const closesAt = newest.at + windowMs;
  if (now < closesAt) return { open: true, promotedAt: newest.at, closesAt };
  return {
    open: false,
    why: 'closed',
    detail: `${serving} was promoted ${formatDuration(seconds(now - newest.at))} ago, past its rollback_window of ${formatDuration(windowMs)}: an old revision is no longer a safe target (data and schemas have moved on)`,
  };
}

/** The command a person runs to send traffic to `to` by hand. */
export function rollbackCommand(service: string, to: string | null): string {
  return `runwarden rollback --service ${service}${to ? ` --to ${to}` : ''}`;
}

function seconds(ms: number): number {
  return Math.max(1000, Math.round(ms / 1000) * 1000);
}
