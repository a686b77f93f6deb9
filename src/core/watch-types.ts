/**
 * The data the deploy-watch decisions work on: what Cloud Run says about a service right now, and
 * what runwarden remembers about it (kept in the store). Plain data, no behaviour.
 */

/** One row of a service's traffic as Cloud Run reports it (trafficStatuses), LATEST resolved. */
export interface TrafficEntry {
  /** Short revision name, e.g. "shop-00012-abc". */
  revision: string;
  percent: number;
  tag?: string | undefined;
  /** The tag's URL, when the entry has a tag. */
  uri?: string | undefined;
  /** The entry follows the latest ready revision instead of naming one. */
  latest?: boolean | undefined;
}

/** A service as seen by one poll. */
export interface ServiceObservation {
  /** Fingerprint of this version of the service; updates are conditional on it. */
  etag: string;
  uri: string | null;
  /** Short name of the newest revision that became ready, or null. */
  latestReady: string | null;
  traffic: TrafficEntry[];
}

/** What the previous poll saw, enough to tell that something changed. */
export interface Snapshot {
  latestReady: string | null;
  /** revision -> percent of traffic it serves (only revisions serving more than 0 %). */
  serving: Record<string, number>;
}

export type WatchStatus =
  | 'watching'
  | 'promoted'
  | 'rolled_back'
  | 'would_roll_back'
  | 'superseded'
  | 'cancelled'
  | 'inconclusive'
  | 'failed';

/** An open or finished watch of one candidate revision. Times are ms since the epoch. */
export interface WatchState {
  id: number;
  candidate: string;
  /** The last known good revision when the watch started; null when none was known. */
  stable: string | null;
  startedAt: number;
  deadline: number;
  status: WatchStatus;
  /** Rollback rules that tripped during this watch; a candidate that tripped is never promoted. */
  tripped: string[];
  /** Things already announced in this watch (`alert:<rule>`, `insufficient`, `refused:<reason>`...). */
  announced: string[];
}

/** What runwarden knows about one service between polls. */
export interface ServiceMemory {
  stable: string | null;
  /** Revisions rolled back from (or that tripped a rollback rule): never promoted or rolled back to. */
  bad: ReadonlySet<string>;
  frozen: boolean;
  /** When the last automatic rollback of this service completed, for the cooldown. */
  lastAutoRollbackAt: number | null;
  snapshot: Snapshot | null;
  watch: WatchState | null;
}

export type InsufficientDataPolicy = 'keep_waiting' | 'alert' | 'rollback_at_deadline';
export type WatchMode = 'enforce' | 'dry-run';

/** Revisions serving traffic right now, with their share. */
export function servingOf(traffic: readonly TrafficEntry[]): Record<string, number> {
  const serving: Record<string, number> = {};
  for (const entry of traffic) {
    if (entry.percent > 0) serving[entry.revision] = (serving[entry.revision] ?? 0) + entry.percent;
  }
  return serving;
}

export function snapshotOf(observation: ServiceObservation): Snapshot {
  return { latestReady: observation.latestReady, serving: servingOf(observation.traffic) };
}

/** The tag URL of `revision`, when it has a tag. */
export function tagUrlOf(traffic: readonly TrafficEntry[], revision: string): string | undefined {
  return traffic.find((entry) => entry.revision === revision && entry.tag && entry.uri)?.uri;
}
