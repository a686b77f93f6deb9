import type { Histogram } from './distribution.js';
import type { SeriesFilter, SeriesIdentity } from './monitoring-filter.js';
import type { RequestBucket } from './request-log.js';
import type { World } from './world.js';

export type MetricKind = 'DELTA' | 'GAUGE';
export type ValueType = 'INT64' | 'DOUBLE' | 'DISTRIBUTION';

/** The Cloud Run metrics the emulator serves, with the kind and type Monitoring gives them. */
export const RUN_METRICS: Record<string, { kind: MetricKind; valueType: ValueType; unit: string }> = {
  'run.googleapis.com/request_count': { kind: 'DELTA', valueType: 'INT64', unit: '1' },
  'run.googleapis.com/request_latencies': { kind: 'DELTA', valueType: 'DISTRIBUTION', unit: 'ms' },
  'run.googleapis.com/container/cpu/utilizations': {
    kind: 'DELTA',
    valueType: 'DISTRIBUTION',
    unit: '10^2.%',
  },
  'run.googleapis.com/container/memory/utilizations': {
    kind: 'DELTA',
    valueType: 'DISTRIBUTION',
    unit: '10^2.%',
  },
};

/** One point: a number (INT64/DOUBLE) or a distribution over [start, end) in epoch ms. */
export interface SeriesPoint {
  start: number;
  end: number;
  value: number | Histogram;
}

export interface Series extends SeriesIdentity {
  kind: MetricKind;
  valueType: ValueType;
  unit: string;
  /** Oldest first. */
  points: SeriesPoint[];
}

/** Which points exist: ingested by `visibleUntil` and ending inside (`start`, `end`]. */
export interface PointWindow {
  start: number;
  end: number;
  visibleUntil: number;
}

/**
 * The raw series (one point per sample period that served requests; nothing for periods that served
 * none, as in Monitoring) of every metric and revision that `filter` selects.
 */
export function rawSeries(world: World, filter: SeriesFilter, window: PointWindow): Series[] {
  const out: Series[] = [];
  const { project, region } = world.options;
  for (const service of world.services.values()) {
    for (const revision of service.revisions) {
      const resourceLabels = {
        project_id: project,
        location: region,
        service_name: service.name,
        revision_name: revision.name,
        configuration_name: service.name,
      };
      const base = { resourceType: 'cloud_run_revision', resourceLabels };
      const log = revision.app.log;
      const visible = log.buckets().filter((bucket) => inWindow(bucket.start + log.periodMs, window));
      const period = (bucket: RequestBucket) => ({ start: bucket.start, end: bucket.start + log.periodMs });

      for (const code of [...log.totals().keys()].sort((a, b) => a - b)) {
        const metricLabels = {
          response_code: String(code),
          response_code_class: `${Math.floor(code / 100)}xx`,
        };
        const counts: SeriesIdentity = {
          ...base,
          metricType: 'run.googleapis.com/request_count',
          metricLabels,
        };
        if (filter.matches(counts)) {
          const points = visible
            .filter((bucket) => (bucket.codes.get(code) ?? 0) > 0)
            .map((bucket) => ({ ...period(bucket), value: bucket.codes.get(code)! }));
          out.push(withMetric(counts, points));
        }
        const latencies: SeriesIdentity = {
          ...base,
          metricType: 'run.googleapis.com/request_latencies',
          metricLabels,
        };
        if (filter.matches(latencies)) {
          const points = visible.flatMap((bucket) => {
            const histogram = bucket.latency.get(code);
            return histogram ? [{ ...period(bucket), value: histogram.copy() }] : [];
          });
          out.push(withMetric(latencies, points));
        }
      }
      for (const [metricType, pick] of [
        ['run.googleapis.com/container/cpu/utilizations', (bucket: RequestBucket) => bucket.cpu],
        ['run.googleapis.com/container/memory/utilizations', (bucket: RequestBucket) => bucket.memory],
      ] as const) {
        const identity: SeriesIdentity = { ...base, metricType, metricLabels: {} };
        if (!filter.matches(identity)) continue;
        const points = visible.map((bucket) => ({
          ...period(bucket),
          value: pick(bucket).copy(),
        }));
        out.push(withMetric(identity, points));
      }
    }
  }
  return out.filter((series) => series.points.length > 0);
}

function withMetric(identity: SeriesIdentity, points: SeriesPoint[]): Series {
  const metric = RUN_METRICS[identity.metricType]!;
  return { ...identity, kind: metric.kind, valueType: metric.valueType, unit: metric.unit, points };
}

function inWindow(pointEnd: number, window: PointWindow): boolean {
  return pointEnd <= window.visibleUntil && pointEnd > window.start && pointEnd <= window.end;
}
