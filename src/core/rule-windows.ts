import type { Rule } from './rule-types.js';

/**
 * Metric windows: only complete buckets old enough to have been reported are evaluated (Cloud Run
 * metrics are sampled every 60 s and can take minutes to appear). Pure; `now` passed in.
 */
export interface TimeWindow {
  start: number;
  end: number;
}

export interface WindowOptions {
  /** Bucket size of the metric series, 60 s for Cloud Run. */
  alignmentMs: number;
  /** How long a bucket takes to be reported in full; younger buckets are not evaluated. */
  reportingDelayMs: number;
}

/**
 * The window of complete buckets, old enough to have been reported, that ends closest to `now`:
 * [end - windowMs, end) where end is a bucket boundary at least `reportingDelayMs` before now.
 */
export function metricWindow(now: number, windowMs: number, options: WindowOptions): TimeWindow {
  const end = Math.floor((now - options.reportingDelayMs) / options.alignmentMs) * options.alignmentMs;
  return { start: end - windowMs, end };
}

/** The range one request query must cover so every request rule can be cut out of it. */
export function requestQueryWindow(rules: readonly Rule[], now: number, options: WindowOptions) {
  return coveringWindow(
    rules.filter((rule) => rule.signal === 'requests'),
    now,
    options,
  );
}

/** The range one latency query must cover so every latency rule can be cut out of it. */
export function latencyQueryWindow(rules: readonly Rule[], now: number, options: WindowOptions) {
  return coveringWindow(
    rules.filter((rule) => rule.signal === 'latency'),
    now,
    options,
  );
}

/** Which utilization series a rule reads: one per signal and percentile. */
export function utilizationKey(signal: 'cpu' | 'memory', percentile: number): string {
  return `${signal}:p${percentile}`;
}

/** The range one utilization query of `signal` must cover. */
export function utilizationQueryWindow(
  rules: readonly Rule[],
  signal: 'cpu' | 'memory',
  now: number,
  options: WindowOptions,
) {
  return coveringWindow(
    rules.filter((rule) => rule.signal === signal),
    now,
    options,
  );
}

function coveringWindow(rules: readonly Rule[], now: number, options: WindowOptions): TimeWindow | undefined {
  if (rules.length === 0) return undefined;
  const widest = Math.max(...rules.map((rule) => ('windowMs' in rule ? rule.windowMs : 0)));
  return metricWindow(now, widest, options);
}
