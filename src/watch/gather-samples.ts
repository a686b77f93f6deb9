import {
  type Fetched,
  type HealthSample,
  latencyQueryWindow,
  requestQueryWindow,
  type Rule,
  type Samples,
  type TimeWindow,
  type UtilizationPoint,
  utilizationKey,
  utilizationQueryWindow,
} from '../core/rules.js';
import { type ServiceObservation, servingOf, tagUrlOf } from '../core/watch-types.js';
import { errorMessage } from '../core/errors.js';
import type { MetricRead, RevisionTarget } from '../signals/metric-source.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** Probe targets: the service URL, and a candidate's tag URL. */
export const SERVICE_TARGET = 'service';
export const TAG_TARGET = 'tag';

/** Whose samples are gathered: a watch's candidate with the watch's rules, or the guard's revision. */
export interface SampleSubject {
  revision: string;
  rules: readonly Rule[];
}

/**
 * Everything this tick knows about the candidate: metric windows for its revision (read in
 * parallel, up to the newest aligned boundary so the ingestion lag shows) and its health probes.
 * A metric that cannot be read is left out (its rules say insufficient data) and reported once.
 */
export async function gatherSamples(
  rt: WatchRuntime,
  service: WatchedService,
  subject: SampleSubject,
  observation: ServiceObservation,
  signal: AbortSignal,
  onFailure: (what: string, error: unknown) => void,
): Promise<Samples> {
  const now = rt.clock();
  const target: RevisionTarget = { ...service.ref, revision: subject.revision };
  const rules = subject.rules;
  const until = Math.floor(now / rt.windows.alignmentMs) * rt.windows.alignmentMs;
  const widen = (window: TimeWindow | undefined) =>
    window && { start: window.start, end: Math.max(window.end, until) };
  const requestWindow = widen(requestQueryWindow(rules, now, rt.windows));
  const guard = <T>(what: string, read: Promise<MetricRead<T>>) =>
    read.then(
      (result) => {
        noteLag(rt, service, result.newestPointEnd, now);
        return result as Fetched<T>;
      },
      (error: unknown) => {
        if (signal.aborted) throw error;
        onFailure(what, error);
        return undefined;
      },
    );
  const requests = requestWindow
    ? guard(
        'request counts',
        rt.metricSource.requestCounts(target, requestWindow, rt.windows.alignmentMs, signal),
      )
    : Promise.resolve(undefined);
  const latencyWindow = widen(latencyQueryWindow(rules, now, rt.windows));
  const latency = latencyWindow
    ? guard(
        'request latencies',
        rt.metricSource.latencies(target, latencyWindow, rt.windows.alignmentMs, signal),
      )
    : Promise.resolve(undefined);
  const utilization = utilizationReads(rt, rules, target, until, signal, guard);
  const [requestSamples, latencySamples, ...utilizationSamples] = await Promise.all([
    requests,
    latency,
    ...utilization.map((entry) => entry.read),
  ]);
  return {
    requests: requestSamples,
    latency: latencySamples,
    utilization: Object.fromEntries(
      utilization.map((entry, index) => [entry.key, utilizationSamples[index]]),
    ),
    health: healthSamples(rt, service, subject.revision, observation),
  };
}

function utilizationReads(
  rt: WatchRuntime,
  rules: readonly Rule[],
  target: RevisionTarget,
  until: number,
  signal: AbortSignal,
  guard: (
    what: string,
    read: Promise<MetricRead<UtilizationPoint>>,
  ) => Promise<Fetched<UtilizationPoint> | undefined>,
) {
  const reads = new Map<string, Promise<Fetched<UtilizationPoint> | undefined>>();
  for (const rule of rules) {
    if (rule.signal !== 'cpu' && rule.signal !== 'memory') continue;
    const key = utilizationKey(rule.signal, rule.percentile);
    const window = utilizationQueryWindow(rules, rule.signal, rt.clock(), rt.windows);
    if (reads.has(key) || !window) continue;
    const what = `${rule.signal} utilization`;
    const range = { start: window.start, end: Math.max(window.end, until) };
    reads.set(
      key,
      guard(
        what,
        rt.metricSource.utilization(
          target,
          rule.signal,
          rule.percentile,
          range,
          rt.windows.alignmentMs,
          signal,
        ),
      ),
    );
  }
  return [...reads].map(([key, read]) => ({ key, read }));
}

/** The candidate's probes: its tag URL when it has one; the service URL while it serves traffic. */
export function candidateTargets(observation: ServiceObservation, candidate: string): string[] {
  const targets: string[] = [];
  if (tagUrlOf(observation.traffic, candidate)) targets.push(TAG_TARGET);
  if ((servingOf(observation.traffic)[candidate] ?? 0) > 0) targets.push(SERVICE_TARGET);
  return targets;
}

function healthSamples(
  rt: WatchRuntime,
  service: WatchedService,
  revision: string,
  observation: ServiceObservation,
): HealthSample[] {
  const samples = rt.live.probesOf(service.key, candidateTargets(observation, revision));
  // A tag probe is of whatever revision held the tag then; keep only those of this candidate.
  return samples.filter((sample) => sample.revision === undefined || sample.revision === revision);
}

function noteLag(rt: WatchRuntime, service: WatchedService, newest: number | null, now: number): void {
  if (newest !== null)
    rt.metrics.ingestionLag.set({ service: service.key }, Math.max(0, now - newest) / 1000);
}

export function describeFailure(what: string, error: unknown): string {
  return `could not read ${what}: ${errorMessage(error)}`;
}
