/**
 * Request latency percentiles from Cloud Run's `request_latencies` distribution (milliseconds).
 * Pure. A window holds several points (one per aligned minute); their bucket counts are added up
 * first and the percentile is interpolated once over the sum, so a quiet minute weighs less than a
 * busy one (averaging per-minute percentiles would not).
 */

/**
 * One distribution point over [start, end): `bounds` are the finite bucket boundaries
 * (google.api.Distribution: N finite buckets have N + 1 bounds), `counts` the bucket counts with
 * bucket 0 the underflow (< bounds[0]) and bucket N + 1 the overflow (>= bounds[N]). Trailing
 * empty buckets may be left out of `counts`, as the API does.
 */
export interface LatencyPoint {
  start: number;
  end: number;
  bounds: readonly number[];
  counts: readonly number[];
}

/** Bucket counts added up over points that share one bucket layout. */
export interface MergedDistribution {
  bounds: readonly number[];
  counts: number[];
  count: number;
}

export type MergeResult = { ok: true; merged: MergedDistribution } | { ok: false; problem: string };

/** Adds up the bucket counts of `points`; points with another bucket layout cannot be added. */
export function mergeLatencies(points: readonly LatencyPoint[]): MergeResult {
  const first = points[0];
  if (!first) return { ok: true, merged: { bounds: [], counts: [], count: 0 } };
  const bounds = first.bounds;
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let count = 0;
  for (const point of points) {
    if (!sameBounds(bounds, point.bounds))
      return { ok: false, problem: 'the points of the window use different bucket layouts' };
    if (point.counts.length > bounds.length + 1)
      return {
        ok: false,
        problem: `a point has ${point.counts.length} buckets for ${bounds.length} bounds`,
      };
    point.counts.forEach((inBucket, index) => {
      counts[index] = (counts[index] ?? 0) + inBucket;
      count += inBucket;
    });
  }
  return { ok: true, merged: { bounds, counts, count } };
}

export interface Percentile {
  /** Milliseconds. */
  value: number;
  /**
   * true when the percentile fell in the overflow bucket: `value` is then its lower bound, and the
   * real percentile is at least that.
   */
  atLeast: boolean;
}

/**
 * The p-th percentile (p in 0..1) of a merged distribution, interpolated linearly inside the
 * bucket that holds it (as Cloud Monitoring's percentile aligners do); null when it is empty.
 * Latencies are never negative, so the underflow bucket spans [0, bounds[0]).
 */
export function latencyPercentile(merged: MergedDistribution, p: number): Percentile | null {
  if (merged.count <= 0) return null;
  const rank = Math.min(1, Math.max(0, p)) * merged.count;
  let seen = 0;
  const last = merged.counts.length - 1;
  for (let index = 0; index <= last; index += 1) {
    const inBucket = merged.counts[index] ?? 0;
    if (inBucket <= 0) continue;
    if (seen + inBucket >= rank) {
      if (index === merged.bounds.length) return { value: merged.bounds[index - 1] ?? 0, atLeast: true };
      const upper = merged.bounds[index] as number;
      const lower = index === 0 ? Math.min(0, upper) : (merged.bounds[index - 1] as number);
      const share = Math.max(0, rank - seen) / inBucket;
      return { value: lower + share * (upper - lower), atLeast: false };
    }
    seen += inBucket;
  }
  // Unreachable when count is the sum of counts; kept so a bad input cannot loop or throw.
  return null;
}

/**
 * The fewest requests a window must hold before its p-th percentile is judged: enough that at least
 * five requests lie above the percentile (p50: 10, p95: 100, p99: 500). With fewer, one or two slow
 * requests (a cold start, a single heavy page) would decide the verdict alone, either way.
 */
export function defaultLatencyMinRequests(percentile: number): number {
  return Math.ceil(5 / (1 - percentile / 100) - 1e-9);
}

/** The bounds of a google.api.Distribution's bucket options: linear, exponential or explicit. */
export function bucketBounds(options: {
  linear?: { numFiniteBuckets: number; width: number; offset: number } | undefined;
  exponential?: { numFiniteBuckets: number; growthFactor: number; scale: number } | undefined;
  explicit?: readonly number[] | undefined;
}): number[] | null {
  if (options.linear) {
    const { numFiniteBuckets, width, offset } = options.linear;
    if (!(numFiniteBuckets > 0 && width > 0)) return null;
    return Array.from({ length: numFiniteBuckets + 1 }, (_, index) => offset + index * width);
  }
  if (options.exponential) {
    const { numFiniteBuckets, growthFactor, scale } = options.exponential;
    if (!(numFiniteBuckets > 0 && growthFactor > 1 && scale > 0)) return null;
    return Array.from({ length: numFiniteBuckets + 1 }, (_, index) => scale * growthFactor ** index);
  }
  if (options.explicit && options.explicit.length > 0) {
    const bounds = [...options.explicit];
    return bounds.every((bound, index) => index === 0 || bound > (bounds[index - 1] as number))
      ? bounds
      : null;
  }
  return null;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every(
    (bound, index) => Math.abs(bound - (b[index] as number)) <= 1e-9 * Math.max(1, Math.abs(bound)),
  );
}
