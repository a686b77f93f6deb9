import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';

/** The storage emulator's operations, by the JSON API method names; faults are injected per operation. */
export const STORAGE_OPERATIONS = [
  'buckets.get',
  'buckets.insert',
  'buckets.list',
  /** A simple or multipart upload, or the start of a resumable one. */
  'objects.insert',
  /** A request of a resumable upload that carries bytes. */
  'objects.upload',
  /** A resumable upload's status query (`Content-Range: bytes *\/N`, no body). */
  'objects.status',
  'objects.get',
  /** A media download (`alt=media`). */
  'objects.download',
  'objects.list',
  'objects.delete',
  'objects.patch',
] as const;

export type StorageOperation = (typeof STORAGE_OPERATIONS)[number];

export const STORAGE_FAULT_STATUSES = [400, 401, 403, 404, 408, 429, 500, 502, 503, 504] as const;

/**
 * What the next `times` matching requests get: a delay first, then either an HTTP error `status` or a
 * dropped connection (`drop`). With `afterBytes`, the request first moves that many body bytes (an
 * upload persists them, a download sends them), then fails: "a 503 or a dropped connection in the
 * middle of an upload". A download that already sent bytes can no longer change its status, so there
 * `afterBytes` always drops. A delay alone slows the request down and lets it succeed.
 */
export interface StorageFault {
  /** An operation, or '*' for any. */
  operation: StorageOperation | '*';
  /** Only requests on this bucket (and object, if given). */
  bucket?: string;
  object?: string;
  status?: (typeof STORAGE_FAULT_STATUSES)[number];
  drop?: boolean;
  afterBytes?: number;
  delayMs?: number;
  /** How many requests the fault applies to; 1 when omitted. Exclusive with forMs. */
  times?: number;
  /**
   * Every matching request for this long (ms, from the injection) gets the fault, however many: "the
   * bucket answers 503 for a while". Exclusive with times.
   */
  forMs?: number;
  /**
   * Only requests that came in through this door (see StorageEmulator.openDoor): one client is cut
   * off while the others still reach the bucket, a partition of that client.
   */
  door?: string;
  message?: string;
}

type Queued = StorageFault & { times: number; until?: number };

/** Storage faults waiting for their requests, in the order they were injected; and slow buckets. */
export class StorageFaults {
  #queue: Queued[] = [];
  readonly #latency = new Map<string, number>();

  /** Queues a fault; UsageError names a bad operation, status, count, delay or combination. */
  inject(fault: StorageFault): void {
    if (fault.operation !== '*' && !STORAGE_OPERATIONS.includes(fault.operation)) {
      throw new UsageError(
        `unknown storage operation "${fault.operation}"; faults apply to ${STORAGE_OPERATIONS.join(', ')} or *`,
      );
    }
    if (fault.status !== undefined && !STORAGE_FAULT_STATUSES.includes(fault.status)) {
      throw new UsageError(`fault status ${fault.status} is not one of ${STORAGE_FAULT_STATUSES.join(', ')}`);
    }
    if (fault.status !== undefined && fault.drop)
      throw new UsageError('a fault has a status or drop, not both');
    if (fault.times !== undefined && fault.forMs !== undefined)
      throw new UsageError('a fault has times or forMs, not both');
    const times = fault.forMs !== undefined ? Number.POSITIVE_INFINITY : (fault.times ?? 1);
    if (fault.forMs === undefined && (!Number.isInteger(times) || times < 1))
      throw new UsageError(`fault times must be a whole number >= 1, got ${times}`);
    checkNonNegative('forMs', fault.forMs);
    checkNonNegative('delayMs', fault.delayMs);
    checkNonNegative('afterBytes', fault.afterBytes);
    if (fault.afterBytes !== undefined && fault.status === undefined && !fault.drop) {
      throw new UsageError('afterBytes needs a status or drop: true');
    }
    if (fault.status === undefined && !fault.drop && !fault.delayMs) {
      throw new UsageError('a storage fault needs a status, drop: true, or a delayMs');
    }
    this.#queue.push({
      ...fault,
      times,
      ...(fault.forMs !== undefined ? { until: performance.now() + fault.forMs } : {}),
    });
  }

  /** Drops every queued fault and every slow bucket. */
  clear(): void {
    this.#queue = [];
    this.#latency.clear();
  }

  /** The first queued fault matching this request, counted against its `times`. */
  take(
    operation: StorageOperation,
    bucket: string,
    object?: string,
    door?: string,
  ): StorageFault | undefined {
    const now = performance.now();
    this.#queue = this.#queue.filter((fault) => fault.until === undefined || fault.until > now);
    const index = this.#queue.findIndex(
      (fault) =>
        (fault.operation === '*' || fault.operation === operation) &&
        (fault.door === undefined || fault.door === door) &&
        (fault.bucket === undefined || fault.bucket === bucket) &&
        (fault.object === undefined || fault.object === object),
    );
    const fault = this.#queue[index];
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) this.#queue.splice(index, 1);
    return fault;
  }

  /** Makes every request on `bucket` wait `delayMs` first (a slow bucket); 0 makes it fast again. */
  setLatency(bucket: string, delayMs: number): void {
    checkNonNegative('delayMs', delayMs);
    if (delayMs === 0) this.#latency.delete(bucket);
    else this.#latency.set(bucket, delayMs);
  }

  latency(bucket: string): number {
    return this.#latency.get(bucket) ?? 0;
  }

  /** Queued faults with the requests still to be affected, and slow buckets (for the control API). */
  pending(): { faults: StorageFault[]; slowBuckets: Record<string, number> } {
    return {
      faults: this.#queue.map(({ until, times, ...fault }) =>
        until === undefined
          ? { ...fault, times }
          : { ...fault, forMs: Math.max(0, until - performance.now()) },
      ),
      slowBuckets: Object.fromEntries(this.#latency),
    };
  }
}

function checkNonNegative(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
    throw new UsageError(`fault ${name} must be >= 0, got ${value}`);
  }
}
