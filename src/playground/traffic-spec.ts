import { invalid } from './playground-error.js';

/** One traffic target, as in Cloud Run's `Service.traffic` (revision names are short names). */
export interface TrafficTarget {
  type: 'REVISION' | 'LATEST';
  /** Short revision name; only for type REVISION. */
  revision?: string;
  /** Whole percent, 0..100; all targets of a service add up to 100. */
  percent: number;
  tag?: string;
}

/** A target as it is being served: LATEST resolved to the revision it means right now. */
export interface TrafficStatus {
  type: 'REVISION' | 'LATEST';
  revision: string;
  percent: number;
  tag?: string;
}

const TAG = /^[a-z]([-a-z0-9]{0,44}[a-z0-9])?$/;

/** The short name of a revision given either as `name` or as `projects/.../revisions/name`. */
export function shortRevisionName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * Checks and normalizes a traffic list the way Cloud Run does: known revisions, whole percents adding
 * up to 100, unique well-formed tags. Throws INVALID_ARGUMENT naming the first target at fault.
 */
export function validateTraffic(
  targets: readonly TrafficTarget[],
  revisions: readonly string[],
): TrafficTarget[] {
  if (targets.length === 0) throw invalid('traffic: at least one target is required');
  const tags = new Set<string>();
  let total = 0;
  const normalized = targets.map((target, index) => {
    const where = `traffic[${index}]`;
    const percent = target.percent ?? 0;
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw invalid(`${where}.percent: expected a whole number 0..100, got ${target.percent}`);
    }
    total += percent;
    const out: TrafficTarget = { type: target.type, percent };
    if (target.type === 'REVISION') {
      if (!target.revision) throw invalid(`${where}.revision: required for type REVISION`);
      const revision = shortRevisionName(target.revision);
      if (!revisions.includes(revision)) throw invalid(`${where}.revision: no revision named ${revision}`);
      out.revision = revision;
    } else if (target.type === 'LATEST') {
      if (target.revision) throw invalid(`${where}.revision: must be empty for type LATEST`);
    } else {
      throw invalid(`${where}.type: expected REVISION or LATEST, got ${String(target.type)}`);
    }
    if (target.tag) {
      if (!TAG.test(target.tag)) throw invalid(`${where}.tag: "${target.tag}" is not a valid tag`);
      if (tags.has(target.tag)) throw invalid(`${where}.tag: "${target.tag}" is used twice`);
      tags.add(target.tag);
      out.tag = target.tag;
    }
    return out;
  });
  if (total !== 100) throw invalid(`traffic: percents must add up to 100, got ${total}`);
  return normalized;
}

/** Resolves LATEST to `latestReady`, giving what each target serves now. */
export function resolveStatuses(targets: readonly TrafficTarget[], latestReady: string): TrafficStatus[] {
  return targets.map((target) => ({
    type: target.type,
    revision: target.type === 'LATEST' ? latestReady : (target.revision ?? latestReady),
    percent: target.percent,
    ...(target.tag ? { tag: target.tag } : {}),
  }));
}

/** The share of the service URL's requests each revision gets (revisions with 0 % left out). */
export function routingSplit(
  statuses: readonly TrafficStatus[],
): Array<{ revision: string; percent: number }> {
  const byRevision = new Map<string, number>();
  for (const status of statuses) {
    byRevision.set(status.revision, (byRevision.get(status.revision) ?? 0) + status.percent);
  }
  return [...byRevision.entries()]
    .filter(([, percent]) => percent > 0)
    .map(([revision, percent]) => ({ revision, percent }));
}

/**
 * The traffic after deploying `created`, as `gcloud run deploy` leaves it. By default the new
 * revision takes all traffic through LATEST and existing tags keep their revisions at 0 %. With
 * `noTraffic`, LATEST targets are first pinned to `previousLatest` so nothing moves, and the new
 * revision is only reachable through `tag`.
 */
export function trafficAfterDeploy(
  current: readonly TrafficTarget[],
  previousLatest: string | undefined,
  created: string,
  options: { noTraffic?: boolean; tag?: string },
): TrafficTarget[] {
  const { tag } = options;
  const pin = (target: TrafficTarget): TrafficTarget =>
    target.type === 'LATEST' && previousLatest !== undefined
      ? { ...target, type: 'REVISION', revision: previousLatest }
      : { ...target };
  // The tag moves to the new revision; whatever traffic its old target carried stays where it was.
  const untagged = current.map((target) =>
    tag !== undefined && target.tag === tag ? withoutTag(target) : target,
  );
  let next: TrafficTarget[];
  if (options.noTraffic && previousLatest !== undefined) {
    next = untagged.filter((target) => target.tag !== undefined || target.percent > 0).map(pin);
  } else {
    const tagged = untagged.filter((target) => target.tag !== undefined);
    next = [{ type: 'LATEST', percent: 100 }, ...tagged.map((target) => ({ ...pin(target), percent: 0 }))];
  }
  if (tag !== undefined) next.push({ type: 'REVISION', revision: created, percent: 0, tag });
  return next;
}

function withoutTag(target: TrafficTarget): TrafficTarget {
  const { tag: _dropped, ...rest } = target;
  return rest;
}
