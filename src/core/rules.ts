/**
 * Rule evaluation for a deploy watch: pure functions over samples already gathered, `now` passed in.
 * A rule looks at one signal of the candidate revision (request counts, health probes, CPU or memory)
 * and answers healthy, unhealthy or insufficient_data, with the raw values that led there so the
 * decision can be explained later.
 */
import { formatDuration } from './duration.js';
import { type LatencyPoint, latencyPercentile, mergeLatencies } from './latency.js';
import { type ProbeAuthCheck, probeAuthFailed } from './probe-auth.js';
import type {
  HealthRule,
  LatencyRule,
  RequestRule,
  Rule,
  RuleAction,
  RuleSignal,
  UtilizationRule,
  Verdict,
} from './rule-types.js';
import { metricWindow, type TimeWindow, utilizationKey, type WindowOptions } from './rule-windows.js';

export type { LatencyPoint } from './latency.js';

export {
  latencyQueryWindow,
  metricWindow,
  requestQueryWindow,
  type TimeWindow,
  utilizationKey,
  utilizationQueryWindow,
  type WindowOptions,
} from './rule-windows.js';

export type {
  HealthRule,
  LatencyRule,
  RequestRule,
  Rule,
  RuleAction,
  RuleSignal,
  UtilizationRule,
  Verdict,
} from './rule-types.js';

/** Requests of one response code counted over one aligned bucket [start, end) (ms since epoch). */
export interface RequestBucket {
  start: number;
  end: number;
  responseCode: string;
  responseCodeClass: string;
  count: number;
}

/** One aligned utilization value (0..1) over [start, end). */
export interface UtilizationPoint {
  start: number;
  end: number;
  value: number;
}

/** One health probe of the candidate (through the service URL or its tag URL). */
export interface HealthSample {
  at: number;
  ok: boolean;
  target: string;
  /** The revision the probe was aimed at (a tag URL's revision); undefined through a traffic split. */
  revision?: string | undefined;
  status?: number | undefined;
  error?: string | undefined;
  /** Set when the probe was refused (401/403) or had no token: what its credentials were found to be. */
  auth?: ProbeAuthCheck | undefined;
}

/** A fetched metric series and the query text that fetched it (kept for the audit trail). */
export interface Fetched<T> {
  query: string;
  items: T[];
}

/** Everything gathered for one evaluation. A series left undefined could not be fetched this tick. */
export interface Samples {
  requests?: Fetched<RequestBucket> | undefined;
  /** Utilization series by `utilizationKey(signal, percentile)`, e.g. "cpu:p99". */
  utilization?: Record<string, Fetched<UtilizationPoint> | undefined>;
  /** Request latency distributions (ms), one point per aligned bucket, all responses summed. */
  latency?: Fetched<LatencyPoint> | undefined;
  health: HealthSample[];
}

/** One rule's verdict with everything needed to explain it. */
export interface RuleEvaluation {
  rule: string;
  signal: RuleSignal;
  action: RuleAction;
  /** The metric window evaluated; null for the health rule (it looks at the newest probes). */
  window: TimeWindow | null;
  query: string;
  raw: Record<string, unknown>;
  /** The measured value compared with the threshold; null when there was nothing to measure. */
  value: number | null;
  threshold: number;
  verdict: Verdict;
  /** One line a person reads: what was measured and how it compares. */
  detail: string;
}

export interface EvaluateContext {
  now: number;
  /** When the candidate started being watched; windows that end before it saw nothing of it. */
  since: number;
  windows: WindowOptions;
}

/** Evaluates every rule over the samples. Pure: the same input always gives the same verdicts. */
export function evaluateRules(
  rules: readonly Rule[],
  samples: Samples,
  context: EvaluateContext,
): RuleEvaluation[] {
  return rules.map((rule) => evaluateRule(rule, samples, context));
}

export function evaluateRule(rule: Rule, samples: Samples, context: EvaluateContext): RuleEvaluation {
  switch (rule.signal) {
    case 'requests':
      return evaluateRequests(rule, samples.requests, context);
    case 'health':
      return evaluateHealth(rule, samples.health, context);
    case 'cpu':
    case 'memory':
      return evaluateUtilization(
        rule,
        samples.utilization?.[utilizationKey(rule.signal, rule.percentile)],
        context,
      );
    case 'latency':
      return evaluateLatency(rule, samples.latency, context);
  }
}

function base(rule: Rule, window: TimeWindow | null, query: string) {
  return {
    rule: rule.name,
    signal: rule.signal,
    action: rule.action,
    window,
    query,
    threshold: rule.threshold,
  };
}

export function describeMatch(rule: RequestRule): string {
  if (rule.responseCode) return `response_code=${rule.responseCode}`;
  if (rule.responseCodeClass) return `response_code_class=${rule.responseCodeClass}`;
  return 'any response';
}

function matches(rule: RequestRule, bucket: RequestBucket): boolean {
  if (rule.responseCode && bucket.responseCode !== rule.responseCode) return false;
  if (rule.responseCodeClass && bucket.responseCodeClass !== rule.responseCodeClass) return false;
  return true;
}

function evaluateRequests(
  rule: RequestRule,
  fetched: Fetched<RequestBucket> | undefined,
  context: EvaluateContext,
): RuleEvaluation {
  const window = metricWindow(context.now, rule.windowMs, context.windows);
  const what = `${describeMatch(rule)} in ${formatDuration(rule.windowMs)}`;
  const head = base(rule, window, fetched?.query ?? '');
  if (!fetched) return noData(head, 'request counts could not be fetched');
  if (window.end <= context.since) return noData(head, 'no complete reported minute since the watch started');
  const inWindow = fetched.items.filter((bucket) => bucket.start >= window.start && bucket.end <= window.end);
  const total = sum(inWindow.map((bucket) => bucket.count));
  const matching = sum(inWindow.filter((bucket) => matches(rule, bucket)).map((bucket) => bucket.count));
  const raw = { matching, total, buckets: inWindow.length };
  if (rule.measure === 'count') {
    if (matching > rule.threshold)
      return verdict(head, raw, matching, 'unhealthy', `${matching} requests ${what} > ${rule.threshold}`);
    // Cloud Monitoring reports no series at all for a revision without traffic: not a zero.
    if (total === 0) return noData(head, `no requests reported in ${formatDuration(rule.windowMs)}`, raw);
    return verdict(head, raw, matching, 'healthy', `${matching} requests ${what} <= ${rule.threshold}`);
  }
  if (total < rule.minRequests)
    return noData(
      head,
      `${total} requests in ${formatDuration(rule.windowMs)} < minimum ${rule.minRequests}`,
      raw,
    );
  const ratio = matching / total;
  const text = `${formatRatio(ratio)} of ${total} requests ${what}`;
  return ratio > rule.threshold
    ? verdict(head, raw, ratio, 'unhealthy', `${text} > ${formatRatio(rule.threshold)}`)
    : verdict(head, raw, ratio, 'healthy', `${text} <= ${formatRatio(rule.threshold)}`);
}

function evaluateHealth(rule: HealthRule, samples: HealthSample[], context: EvaluateContext) {
  const head = base(rule, null, 'health probes of the candidate');
  const seen = samples.filter((sample) => sample.at >= context.since && sample.at <= context.now);
  if (seen.length === 0) return noData(head, 'no health probe has run since the watch started');
  // Each probed URL is its own sequence: a failing tag URL is not excused by a passing service URL.
  const byTarget = new Map<string, HealthSample[]>();
  for (const sample of [...seen].sort((a, b) => a.at - b.at)) {
    byTarget.set(sample.target, [...(byTarget.get(sample.target) ?? []), sample]);
  }
  // The newest probe of some URL was refused for the probe's own credentials: the probes cannot
  // judge the candidate now (older failures are not counted across it either).
  const refused = [...byTarget].find(([, list]) => {
    const newest = list.at(-1);
    return newest !== undefined && probeAuthFailed(newest);
  });
  if (refused) {
    const [target, list] = refused;
    const newest = list.at(-1) as HealthSample;
    const why =
      newest.auth === 'token_failed'
        ? `no ID token for the probe (${newest.error ?? 'token failed'})`
        : `the probe of ${target} was refused (${newest.status}) and the stable revision refuses the same credentials`;
    return {
      ...head,
      raw: { target, probes: seen.length, status: newest.status, error: newest.error, auth: newest.auth },
      value: null,
      verdict: 'auth_failed' as const,
      detail: `${why}: check the probe's identity has roles/run.invoker and its audience`,
    };
  }
  let worst = 0;
  let worstTarget = '';
  for (const [target, list] of byTarget) {
    const inARow = trailingFailures(list);
    if (inARow > worst || worstTarget === '') {
      worst = inARow;
      worstTarget = target;
    }
  }
  const last = (byTarget.get(worstTarget) ?? []).slice(-rule.threshold);
  const raw = {
    failuresInARow: worst,
    target: worstTarget,
    probes: seen.length,
    last: last.map((sample) => ({
      at: sample.at,
      ok: sample.ok,
      status: sample.status,
      error: sample.error,
    })),
  };
  return worst >= rule.threshold
    ? verdict(head, raw, worst, 'unhealthy', `${worst} failed probes in a row of ${worstTarget}`)
    : verdict(head, raw, worst, 'healthy', `${worst} failed probes in a row (< ${rule.threshold})`);
}

/** Failures in a row at the end; a probe refused for its credentials ends the run (it says nothing). */
function trailingFailures(samples: HealthSample[]): number {
  let count = 0;
  for (let index = samples.length - 1; index >= 0; index -= 1) {
    const sample = samples[index] as HealthSample;
    if (sample.ok || probeAuthFailed(sample)) break;
    count += 1;
  }
  return count;
}

function evaluateUtilization(
  rule: UtilizationRule,
  fetched: Fetched<UtilizationPoint> | undefined,
  context: EvaluateContext,
): RuleEvaluation {
  const window = metricWindow(context.now, rule.windowMs, context.windows);
  const head = base(rule, window, fetched?.query ?? '');
  if (!fetched) return noData(head, `${rule.signal} utilization could not be fetched`);
  if (window.end <= context.since) return noData(head, 'no complete reported minute since the watch started');
  const points = fetched.items.filter((point) => point.start >= window.start && point.end <= window.end);
  if (points.length === 0) return noData(head, `no ${rule.signal} utilization reported`, { points: 0 });
  const peak = Math.max(...points.map((point) => point.value));
  const raw = { peak, points: points.length, percentile: rule.percentile };
  const text = `p${rule.percentile} ${rule.signal} peaked at ${formatRatio(peak)} in ${formatDuration(rule.windowMs)}`;
  return peak > rule.threshold
    ? verdict(head, raw, peak, 'unhealthy', `${text} > ${formatRatio(rule.threshold)}`)
    : verdict(head, raw, peak, 'healthy', `${text} <= ${formatRatio(rule.threshold)}`);
}

function evaluateLatency(
  rule: LatencyRule,
  fetched: Fetched<LatencyPoint> | undefined,
  context: EvaluateContext,
): RuleEvaluation {
  const window = metricWindow(context.now, rule.windowMs, context.windows);
  const head = base(rule, window, fetched?.query ?? '');
  if (!fetched) return noData(head, 'request latencies could not be fetched');
  if (window.end <= context.since) return noData(head, 'no complete reported minute since the watch started');
  const points = fetched.items.filter((point) => point.start >= window.start && point.end <= window.end);
  const merged = mergeLatencies(points);
  if (!merged.ok)
    return noData(head, `request latencies not comparable: ${merged.problem}`, { points: points.length });
  const { count } = merged.merged;
  const raw: Record<string, unknown> = {
    requests: count,
    points: points.length,
    percentile: rule.percentile,
  };
  const span = formatDuration(rule.windowMs);
  if (count < rule.minRequests)
    return noData(
      head,
      `${count} requests in ${span} < minimum ${rule.minRequests} for p${rule.percentile}`,
      raw,
    );
  const found = latencyPercentile(merged.merged, rule.percentile / 100);
  if (!found) return noData(head, `no requests reported in ${span}`, raw);
  const value = Math.round(found.value * 10) / 10;
  raw.atLeast = found.atLeast;
  const text = `p${rule.percentile} latency ${found.atLeast ? '>= ' : ''}${formatMs(value)} over ${count} requests in ${span}`;
  return value > rule.threshold
    ? verdict(head, raw, value, 'unhealthy', `${text} > ${formatMs(rule.threshold)}`)
    : verdict(head, raw, value, 'healthy', `${text} <= ${formatMs(rule.threshold)}`);
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 10) / 100}s` : `${Math.round(ms * 10) / 10}ms`;
}

type Head = ReturnType<typeof base>;

function verdict(
  head: Head,
  raw: Record<string, unknown>,
  value: number,
  result: Verdict,
  detail: string,
): RuleEvaluation {
  return { ...head, raw, value, verdict: result, detail };
}

function noData(head: Head, detail: string, raw: Record<string, unknown> = {}): RuleEvaluation {
  return { ...head, raw, value: null, verdict: 'insufficient_data', detail };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function formatRatio(value: number): string {
  return `${Math.round(value * 1000) / 10}%`;
}
