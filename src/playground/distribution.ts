/**
 * A google.api.Distribution as Monitoring lays it out: bucket 0 the underflow, buckets 1..N the
 * finite ones, bucket N + 1 the overflow. Two layouts are served: utilizations (0..1, linear
 * buckets of width 0.01) and request latencies (ms, exponential buckets).
 */
export interface BucketLayout {
  /** The bucketOptions message. */
  options: object;
  /** The N + 1 finite bucket bounds, ascending. */
  bounds: readonly number[];
}

export const UTILIZATION_BUCKETS = { numFiniteBuckets: 100, width: 0.01, offset: 0 } as const;

export const UTILIZATION_LAYOUT: BucketLayout = {
  options: { linearBuckets: { ...UTILIZATION_BUCKETS } },
  bounds: Array.from(
    { length: UTILIZATION_BUCKETS.numFiniteBuckets + 1 },
    (_, index) => UTILIZATION_BUCKETS.offset + index * UTILIZATION_BUCKETS.width,
  ),
};

/** Request latencies: 1 ms growing by 1.4 per bucket, 100 buckets (past any timeout Cloud Run allows). */
export const LATENCY_BUCKETS = { numFiniteBuckets: 100, growthFactor: 1.4, scale: 1 } as const;

export const LATENCY_LAYOUT: BucketLayout = {
  options: { exponentialBuckets: { ...LATENCY_BUCKETS } },
  bounds: Array.from(
    { length: LATENCY_BUCKETS.numFiniteBuckets + 1 },
    (_, index) => LATENCY_BUCKETS.scale * LATENCY_BUCKETS.growthFactor ** index,
  ),
};

export class Histogram {
  /** Bucket index -> samples; sparse, since a revision's values sit in a few buckets. */
  readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  sumOfSquares = 0;

  constructor(readonly layout: BucketLayout = UTILIZATION_LAYOUT) {}

  add(value: number, samples = 1): void {
    if (samples <= 0) return;
    const index = this.#indexOf(value);
    this.counts.set(index, (this.counts.get(index) ?? 0) + samples);
    this.count += samples;
    this.sum += value * samples;
    this.sumOfSquares += value * value * samples;
  }

  /** Adds another histogram's samples; both must share a layout (one metric's points always do). */
  merge(other: Histogram): this {
    if (other.layout !== this.layout)
      throw new RangeError('cannot merge histograms of different bucket layouts');
    for (const [index, samples] of other.counts)
      this.counts.set(index, (this.counts.get(index) ?? 0) + samples);
    this.count += other.count;
    this.sum += other.sum;
    this.sumOfSquares += other.sumOfSquares;
    return this;
  }

  /** An empty histogram of the same layout with this one's samples. */
  copy(): Histogram {
    return new Histogram(this.layout).merge(this);
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The p-th percentile (p in 0..1), interpolated linearly inside its bucket, as Monitoring does. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const bounds = this.layout.bounds;
    const rank = p * this.count;
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      const inBucket = this.counts.get(index)!;
      if (seen + inBucket >= rank) {
        if (index === 0) return bounds[0]!;
        const lower = bounds[index - 1]!;
        if (index === bounds.length) return lower;
        return lower + ((rank - seen) / inBucket) * (bounds[index]! - lower);
      }
      seen += inBucket;
    }
    return this.mean();
  }

  /** As a google.api.Distribution message; trailing empty buckets are left out, as the API does. */
  toMessage(): object {
    const highest = Math.max(0, ...this.counts.keys());
    const bucketCounts = Array.from({ length: highest + 1 }, (_, index) =>
      String(this.counts.get(index) ?? 0),
    );
    const mean = this.mean();
    return {
      count: String(this.count),
      mean,
      sumOfSquaredDeviation: Math.max(0, this.sumOfSquares - this.count * mean * mean),
      bucketOptions: this.layout.options,
      bucketCounts,
    };
  }

  #indexOf(value: number): number {
    const bounds = this.layout.bounds;
    if (value < bounds[0]! - 1e-9) return 0;
    // The first bound above the value (a value on a bound belongs to the bucket it opens).
    let low = 0;
    let high = bounds.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (bounds[middle]! <= value + 1e-9) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
