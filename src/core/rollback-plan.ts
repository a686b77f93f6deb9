import type { TrafficEntry } from './watch-types.js';

/**
 * The one rollback decision, shared by the watch, alert receivers and the CLI: where traffic goes,
 * or why nothing is done. Pure; `now` passed in.
 */
export type RollbackTrigger = 'watch' | 'alert' | 'guard' | 'manual' | 'emergency';

/** A person's rollback: `runwarden rollback` (manual) or `runwarden emergency`. */
export type PersonTrigger = Extract<RollbackTrigger, 'manual' | 'emergency'>;

/**
 * Whether a person decided this rollback: frozen services, bad targets and the cooldown do not
 * stop it, and it is never recorded as owed (the person sees it fail).
 */
export function byPerson(trigger: RollbackTrigger): trigger is PersonTrigger {
  return trigger === 'manual' || trigger === 'emergency';
}

export type RollbackRefusal =
  /** The service is frozen: no automatic action (a person's rollback still goes through). */
  | 'frozen'
  /** No last known good revision: runwarden does not guess one. */
  | 'no_stable'
  /** The target is marked bad; only a person may send traffic back to it. */
  | 'target_bad'
  /** An automatic rollback of this service happened within the cooldown. */
  | 'cooldown'
  /** Another runwarden process (the daemon, a CLI command) is changing this service right now. */
  | 'busy'
  /** Someone changed the service (or ended the watch) after the decision; it is decided again, never clobbered. */
  | 'stale'
  /** After a promotion: past the serving revision's rollback_window, an old revision is no longer a safe target. */
  | 'window_closed'
  /** After a promotion: the serving revision was rolled back to (or is the baseline): it opens no window. */
  | 'not_promoted'
  /** The schema changed since the target last served and on_schema_change is alert. */
  | 'schema_changed'
  /**
   * This runwarden does not hold the `watch` lease (cluster): another one acts. Never announced,
   * and never final for an owed rollback (the leader, or this one once it leads, settles it).
   */
  | 'standby';

export interface RollbackPlanInput {
  trigger: RollbackTrigger;
  /** A specific revision to go to; otherwise the stable revision. */
  toRevision?: string | undefined;
  /**
   * When the deploy being watched now was first seen (for the watch's own trigger and for alerts):
   * a deploy newer than the last rollback is a new incident, so the cooldown does not hold it back.
   */
  candidateSeenAt?: number | undefined;
  /** Finishing an owed rollback (decided earlier, never confirmed): the same incident, so no cooldown. */
  owed?: boolean | undefined;
  /** An automatic rollback after a promotion that its rollback window refuses (see known-good.ts). */
  closed?: { reason: 'window_closed' | 'not_promoted'; detail: string } | undefined;
  now: number;
  cooldownMs: number;
  stable: string | null;
  bad: ReadonlySet<string>;
  frozen: boolean;
  lastAutoRollbackAt: number | null;
  traffic: readonly TrafficEntry[];
}

/** A traffic row to send: a revision with a share, or the "latest" pointer (only ever at 0 %). */
export interface TrafficTarget {
  revision: string | null;
  percent: number;
  tag?: string | undefined;
}

export type RollbackPlan =
  | { kind: 'update'; to: string; from: string[]; traffic: TrafficTarget[] }
  | { kind: 'noop'; to: string; reason: 'already_on_target' }
  | { kind: 'refused'; to: string | null; reason: RollbackRefusal; detail: string };

export function planRollback(input: RollbackPlanInput): RollbackPlan {
  const automatic = !byPerson(input.trigger);
  const to = input.toRevision ?? input.stable;
  if (automatic && input.frozen)
    return refuse(to, 'frozen', 'the service is frozen; no automatic action is taken');
  if (automatic && input.closed) return refuse(to, input.closed.reason, input.closed.detail);
  if (to === null)
    return refuse(null, 'no_stable', 'no last known good revision is recorded; runwarden does not guess one');
  // A person may deliberately go back to a revision runwarden rejected; automation never does.
  if (automatic && input.bad.has(to))
    return refuse(to, 'target_bad', `${to} is marked bad and is never rolled back to automatically`);
  if (automatic && inCooldown(input)) {
    const last = new Date(input.lastAutoRollbackAt as number).toISOString();
    return refuse(to, 'cooldown', `an automatic rollback happened at ${last}, within the cooldown`);
  }
  const serving = input.traffic.filter((entry) => entry.percent > 0);
  if (serving.length > 0 && serving.every((entry) => entry.revision === to))
    return { kind: 'noop', to, reason: 'already_on_target' };
  const from = [...new Set(serving.map((entry) => entry.revision).filter((revision) => revision !== to))];
  return { kind: 'update', to, from, traffic: trafficTo(to, input.traffic) };
}

function inCooldown(input: RollbackPlanInput): boolean {
  if (input.owed === true) return false;
  return cooldownHolds({
    now: input.now,
    cooldownMs: input.cooldownMs,
    lastActedAt: input.lastAutoRollbackAt,
    watchedSince: input.candidateSeenAt,
  });
}

/**
 * The cooldown rule, shared by the rollback plan and the alert receivers' own flood guard: after an
 * automatic rollback at `lastActedAt`, further automatic ones wait `cooldownMs`, unless a deploy
 * first seen after that rollback (`watchedSince`) is being watched: that is a new incident, not
 * the same one flapping. Times in ms since the epoch.
 */
export function cooldownHolds(input: {
  now: number;
  cooldownMs: number;
  lastActedAt: number | null;
  watchedSince?: number | undefined;
}): boolean {
  if (input.lastActedAt === null || input.now - input.lastActedAt >= input.cooldownMs) return false;
  return !(input.watchedSince !== undefined && input.watchedSince > input.lastActedAt);
}

/** 100 % to `to`; every tag is kept (at 0 %) so tag URLs people rely on keep working. */
export function trafficTo(to: string, current: readonly TrafficEntry[]): TrafficTarget[] {
  const ownTag = current.find((entry) => entry.revision === to && entry.tag && !entry.latest)?.tag;
  const targets: TrafficTarget[] = [{ revision: to, percent: 100, tag: ownTag }];
  for (const entry of current) {
    if (!entry.tag || (entry.tag === ownTag && !entry.latest)) continue;
    targets.push({ revision: entry.latest ? null : entry.revision, percent: 0, tag: entry.tag });
  }
  return targets;
}

function refuse(to: string | null, reason: RollbackRefusal, detail: string): RollbackPlan {
  return { kind: 'refused', to, reason, detail };
}
