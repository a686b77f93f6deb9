import { errorMessage } from '../core/errors.js';
import { sleep } from '../util/sleep.js';
import type { RestorePointReport } from '../core/restore-point.js';
import { metricWindow } from '../core/rule-windows.js';
import { type ServiceObservation, servingOf } from '../core/watch-types.js';
import type { IdentifiedProbe } from './probe-identity.js';
import { probeWithIdentity } from './probe-identity.js';
import { restoreReportOrUnknown } from './restore-points.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** How far back `runwarden emergency` counts the serving revision's errors. */
export const ERROR_WINDOW_MS = 10 * 60_000;

/** A read that may fail without stopping the emergency: its value, or why it is unavailable. */
export type Maybe<T> = { ok: true; value: T } | { ok: false; reason: string };

/** One service as the person woken at 3 a.m. needs to see it before deciding. */
export interface EmergencyOverview {
  service: string;
  /**
   * What Cloud Run serves now, or why it could not be read. A list: revision names are data, so
   * the JSON output never uses them as keys.
   */
  serving: Maybe<Array<{ revision: string; percent: number }>>;
  /** The previous known good revision: the rollback target. */
  stable: string | null;
  /** Whether traffic would move: some serving revision is not the stable one. */
  rollbackNeeded: boolean;
  /** The newest rule evaluations of the newest watch, newest first. */
  evaluations: Array<{ at: number; rule: string; verdict: string; value: number | null; detail: string }>;
  /** 5xx and all requests of the serving revisions over the last ERROR_WINDOW_MS, from Cloud Monitoring. */
  errors: Maybe<{
    windowMs: number;
    byRevision: Array<{ revision: string; errors5xx: number; requests: number }>;
  }>;
  restorePoint: RestorePointReport;
  /** The observation read, for the rollback that follows (saves a round trip). */
  observation: ServiceObservation | null;
}

/**
 * What runwarden knows of `service` now: Cloud Run's serving revisions, the stable one, the last
 * evaluations, recent errors and the restore point with its schema drift. Every remote read may
 * fail; the failure is part of the overview, never the end of it (3 a.m. is when APIs fail too).
 */
export async function emergencyOverview(
  rt: WatchRuntime,
  service: WatchedService,
  signal: AbortSignal,
): Promise<EmergencyOverview> {
  const memory = rt.store.memory(service.key);
  let observation: ServiceObservation | null = null;
  let serving: Maybe<Array<{ revision: string; percent: number }>>;
  try {
    observation = await rt.cloudRun.getService(service.ref, signal);
    serving = {
      ok: true,
      value: Object.entries(servingOf(observation.traffic)).map(([revision, percent]) => ({
        revision,
        percent,
      })),
    };
  } catch (error) {
    signal.throwIfAborted();
    serving = { ok: false, reason: errorMessage(error) };
  }
  const revisions = serving.ok ? serving.value.map((entry) => entry.revision) : [];
  const watch = rt.store.watches.recent(service.key, 1)[0] ?? null;
  const evaluations = watch
    ? rt.store.evaluations.forWatch(watch.id, 10).map((entry) => ({
        at: entry.at,
        rule: entry.rule,
        verdict: entry.verdict,
        value: entry.value,
        detail: entry.detail,
      }))
    : [];
  return {
    service: service.key,
    serving,
    stable: memory.stable,
    rollbackNeeded:
      memory.stable !== null && revisions.length > 0 && revisions.some((name) => name !== memory.stable),
    evaluations,
    errors: await recentErrors(rt, service, revisions, signal),
    restorePoint: await restoreReportOrUnknown(rt, service, watch, signal),
    observation,
  };
}

async function recentErrors(
  rt: WatchRuntime,
  service: WatchedService,
  revisions: string[],
  signal: AbortSignal,
): Promise<EmergencyOverview['errors']> {
  if (revisions.length === 0) return { ok: false, reason: 'no serving revision is known' };
  const window = metricWindow(rt.clock(), ERROR_WINDOW_MS, rt.windows);
  try {
    const byRevision = [];
    for (const revision of revisions) {
      const read = await rt.metricSource.requestCounts(
        { ...service.ref, revision },
        window,
        rt.windows.alignmentMs,
        signal,
      );
      const requests = read.items.reduce((sum, bucket) => sum + bucket.count, 0);
      const errors5xx = read.items
        .filter((bucket) => bucket.responseCodeClass === '5xx')
        .reduce((sum, bucket) => sum + bucket.count, 0);
      byRevision.push({ revision, errors5xx, requests });
    }
    return { ok: true, value: { windowMs: ERROR_WINDOW_MS, byRevision } };
  } catch (error) {
    signal.throwIfAborted();
    return { ok: false, reason: errorMessage(error) };
  }
}

/**
 * Probes the service's health path until one probe is healthy or `deadlineMs` passes, one probe
 * per `probe_interval`; `onResult` hears each (a person watches them arrive).
 */
export async function probeUntilHealthy(
  rt: WatchRuntime,
  service: WatchedService,
  deadlineMs: number,
  onResult: (result: IdentifiedProbe) => void,
  signal: AbortSignal,
): Promise<{ healthy: boolean; probes: IdentifiedProbe[]; reason?: string }> {
  let uri: string | null;
  try {
    uri = (await rt.cloudRun.getService(service.ref, signal)).uri;
  } catch (error) {
    signal.throwIfAborted();
    return { healthy: false, probes: [], reason: `service not read: ${errorMessage(error)}` };
  }
  if (!uri) return { healthy: false, probes: [], reason: 'Cloud Run reports no URL for the service' };
  const url = new URL(service.config.health_path, uri).toString();
  const until = rt.clock() + deadlineMs;
  const probes: IdentifiedProbe[] = [];
  for (;;) {
    const result = await probeWithIdentity(rt, service, url, uri, signal);
    probes.push(result);
    onResult(result);
    if (result.ok) return { healthy: true, probes };
    if (rt.clock() + service.config.probe_interval > until)
      return { healthy: false, probes, reason: `not healthy within ${Math.round(deadlineMs / 1000)} s` };
    await sleep(service.config.probe_interval, signal);
  }
}
