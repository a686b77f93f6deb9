import type { TrafficEntry } from './watch-types.js';

/**
 * The one rollback decision, shared by the watch, alert receivers and the CLI: where traffic goes,
 * or why nothing is done. Pure; `now` passed in.
 */
export type RollbackTrigger = 'watch' | 'alert' | 'manual';

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
  | 'stale';

export interface RollbackPlanInput {
  trigger: RollbackTrigger;
  /** A specific revision to go to; otherwise the stable revision. */
  toRevision?: string | undefined;
  /** For a watch: when the candidate was first seen. A deploy newer than the last rollback is a new incident. */
  candidateSeenAt?: number | undefined;
  /** Finishing an owed rollback (decided earlier, never confirmed): the same incident, so no cooldown. */
  owed?: boolean | undefined;
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
  const automatic = input.trigger !== 'manual';
  const to = input.toRevision ?? input.stable;
  if (automatic && input.frozen)
    return refuse(to, 'frozen', 'the service is frozen; no automatic action is taken');
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
  if (input.lastAutoRollbackAt === null || input.now - input.lastAutoRollbackAt >= input.cooldownMs)
    return false;
  // A deploy made after the last rollback is a new incident, not the same one flapping.
  return !(
    input.trigger === 'watch' &&
    input.candidateSeenAt !== undefined &&
    input.candidateSeenAt > input.lastAutoRollbackAt
  );
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
