/** The deploy watch's rules as data: what each looks at and what trips it (evaluated in rules.ts). */

export type RuleAction = 'rollback' | 'alert';
/**
 * auth_failed: the health probes could not judge the candidate because their own credentials were
 * refused (by the stable revision too) or no ID token could be had: never a trip, never a rollback.
 */
export type Verdict = 'healthy' | 'unhealthy' | 'insufficient_data' | 'auth_failed';
export type RuleSignal = 'requests' | 'health' | 'cpu' | 'memory' | 'latency';

/** Requests answered with a matching response code, per window: a count or a share of all requests. */
export interface RequestRule {
  name: string;
  signal: 'requests';
  /** e.g. "5xx"; matches Cloud Monitoring's `response_code_class` label. */
  responseCodeClass?: string | undefined;
  /** e.g. "503"; matches the `response_code` label. */
  responseCode?: string | undefined;
  /** count: matching requests > threshold. ratio: matching / all > threshold (0..1). */
  measure: 'count' | 'ratio';
  threshold: number;
  windowMs: number;
  /** ratio only: fewer requests than this in the window is insufficient data, not a verdict. */
  minRequests: number;
  action: RuleAction;
}

/** The health probe failing `threshold` times in a row (the newest probes) trips the rule. */
export interface HealthRule {
  name: string;
  signal: 'health';
  threshold: number;
  action: RuleAction;
}

/** A percentile of CPU or memory utilization (0..1) above `threshold` within the window. */
export interface UtilizationRule {
  name: string;
  signal: 'cpu' | 'memory';
  percentile: 50 | 95 | 99;
  threshold: number;
  windowMs: number;
  action: RuleAction;
}

/**
 * A percentile of the request latencies (Cloud Run's request_latencies distribution, merged over
 * the window) above `threshold` milliseconds. Fewer than `minRequests` requests in the window is
 * insufficient data.
 */
export interface LatencyRule {
  name: string;
  signal: 'latency';
  percentile: 50 | 95 | 99;
  /** Milliseconds. */
  threshold: number;
  windowMs: number;
  minRequests: number;
  action: RuleAction;
}

export type Rule = RequestRule | HealthRule | UtilizationRule | LatencyRule;
