/**
 * A google.api.Distribution over utilizations (0..1): linear buckets of width 0.01, bucket 0 the
 * underflow and bucket 101 the overflow, as Monitoring lays them out.
 */
export const UTILIZATION_BUCKETS = { numFiniteBuckets: 100, width: 0.01, offset: 0 } as const;

const LAST = UTILIZATION_BUCKETS.numFiniteBuckets + 1;

export class Histogram {
  /** Bucket index -> samples; sparse, since a revision's utilization sits in a few buckets. */
  readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  sumOfSquares = 0;

  add(value: number, samples = 1): void {
    if (samples <= 0) return;
    const index =
      value < UTILIZATION_BUCKETS.offset
        ? 0
        : Math.min(
            LAST,
            1 + Math.floor((value - UTILIZATION_BUCKETS.offset) / UTILIZATION_BUCKETS.width + 1e-9),
          );
    this.counts.set(index, (this.counts.get(index) ?? 0) + samples);
    this.count += samples;
    this.sum += value * samples;
    this.sumOfSquares += value * value * samples;
  }

  merge(other: Histogram): this {
    for (const [index, samples] of other.counts)
      this.counts.set(index, (this.counts.get(index) ?? 0) + samples);
    this.count += other.count;
    this.sum += other.sum;
    this.sumOfSquares += other.sumOfSquares;
    return this;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The p-th percentile (p in 0..1), interpolated linearly inside its bucket, as Monitoring does. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = p * this.count;
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      const inBucket = this.counts.get(index)!;
      if (seen + inBucket >= rank) {
        if (index === 0) return UTILIZATION_BUCKETS.offset;
        const lower = UTILIZATION_BUCKETS.offset + (index - 1) * UTILIZATION_BUCKETS.width;
        if (index === LAST) return lower;
        return lower + ((rank - seen) / inBucket) * UTILIZATION_BUCKETS.width;
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
      bucketOptions: { linearBuckets: { ...UTILIZATION_BUCKETS } },
      bucketCounts,
    };
  }
}
