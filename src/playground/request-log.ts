import { Histogram, LATENCY_LAYOUT } from './distribution.js';

/** What one sample period of a revision served. */
export interface RequestBucket {
  /** Start of the period, epoch ms (a multiple of the period). */
  start: number;
  /** Responses by HTTP status code. */
  codes: ReadonlyMap<number, number>;
  /** Container CPU utilization seen while serving them (one sample per request). */
  cpu: Histogram;
  memory: Histogram;
  /** How long the responses took (ms, from the request's arrival to its answer), by status code. */
  latency: ReadonlyMap<number, Histogram>;
}

/**
 * Counts of the requests a revision served, kept per sample period and status code rather than per
 * request, so fifty busy emulated services stay small. The oldest periods are dropped past
 * `maxBuckets`; totals are kept for the whole life of the revision.
 */
export class RequestLog {
  readonly periodMs: number;
  readonly #maxBuckets: number;
  readonly #buckets = new Map<
    number,
    {
      start: number;
      codes: Map<number, number>;
      cpu: Histogram;
      memory: Histogram;
      latency: Map<number, Histogram>;
    }
  >();
  readonly #totals = new Map<number, number>();

  constructor(periodMs: number, maxBuckets = 1440) {
    if (!(periodMs > 0)) throw new RangeError(`sample period must be > 0 ms, got ${periodMs}`);
    this.periodMs = periodMs;
    this.#maxBuckets = maxBuckets;
  }

  /**
   * Records one response with status `code`, finished at `at` (epoch ms), the utilization then, and
   * how long it took (ms).
   */
  record(code: number, at: number, utilization: { cpu: number; memory: number }, latencyMs = 0): void {
    const start = Math.floor(at / this.periodMs) * this.periodMs;
    let bucket = this.#buckets.get(start);
    if (!bucket) {
      bucket = {
        start,
        codes: new Map(),
        cpu: new Histogram(),
        memory: new Histogram(),
        latency: new Map(),
      };
      this.#buckets.set(start, bucket);
      if (this.#buckets.size > this.#maxBuckets) this.#dropOldest();
    }
    bucket.codes.set(code, (bucket.codes.get(code) ?? 0) + 1);
    bucket.cpu.add(utilization.cpu);
    bucket.memory.add(utilization.memory);
    let latency = bucket.latency.get(code);
    if (!latency) {
      latency = new Histogram(LATENCY_LAYOUT);
      bucket.latency.set(code, latency);
    }
    latency.add(Math.max(0, latencyMs));
    this.#totals.set(code, (this.#totals.get(code) ?? 0) + 1);
  }

  /** Every response ever served, by status code. */
  totals(): ReadonlyMap<number, number> {
    return this.#totals;
  }

  /** The periods that served at least one request, oldest first. */
  buckets(): RequestBucket[] {
    return [...this.#buckets.values()].sort((a, b) => a.start - b.start);
  }

  #dropOldest(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const start of this.#buckets.keys()) oldest = Math.min(oldest, start);
    this.#buckets.delete(oldest);
  }
}
