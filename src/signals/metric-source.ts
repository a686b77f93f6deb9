import type { Fetched, LatencyPoint, RequestBucket, TimeWindow, UtilizationPoint } from '../core/rules.js';

/** The candidate revision whose metrics are read. */
export interface RevisionTarget {
  project: string;
  region: string;
  service: string;
  revision: string;
}

/** What a metric query returned, and the newest point seen (for the ingestion lag). */
export interface MetricRead<T> extends Fetched<T> {
  /** End (ms since the epoch) of the newest point returned, or null when there was none. */
  newestPointEnd: number | null;
}

/**
 * Cloud Monitoring as the deploy watch needs it: per-bucket request counts by response code, and
 * utilization percentiles and request latency distributions, of one revision over a window whose bounds are multiples of `alignmentMs`.
 * A revision without traffic has no series: the result is empty, never zeros. Reads asked together
 * may go out as one query (cloud-monitoring.ts batches them); each read still gets only its own
 * revision's data, and a failed query fails each read in it. Every method takes an
 * AbortSignal; failures are RetryableError (already retried within the deadline) or FatalError with
 * codes RW_MONITORING_*.
 */
export interface MetricSource {
  requestCounts(
    target: RevisionTarget,
    window: TimeWindow,
    alignmentMs: number,
    signal: AbortSignal,
  ): Promise<MetricRead<RequestBucket>>;
  utilization(
    target: RevisionTarget,
    kind: 'cpu' | 'memory',
    percentile: 50 | 95 | 99,
    window: TimeWindow,
    alignmentMs: number,
    signal: AbortSignal,
  ): Promise<MetricRead<UtilizationPoint>>;
  /** Request latency distributions (ms) per aligned bucket, all response codes summed. */
  latencies(
    target: RevisionTarget,
    window: TimeWindow,
    alignmentMs: number,
    signal: AbortSignal,
  ): Promise<MetricRead<LatencyPoint>>;
}
