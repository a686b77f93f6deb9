import type { EmulatedMethod } from './faults.js';

const ORDER_KEPT = 10_000;

/**
 * Every call the emulated Google APIs received, by method, counted as it arrives (before any
 * injected fault), so a test or the bench can say how many reads a daemon spent: the figure Cloud
 * Run's quotas count.
 */
export class ApiCallLog {
  readonly #counts = new Map<EmulatedMethod, number>();
  readonly #order: EmulatedMethod[] = [];
  #total = 0;

  record(method: EmulatedMethod): void {
    this.#counts.set(method, (this.#counts.get(method) ?? 0) + 1);
    this.#order.push(method);
    if (this.#order.length > ORDER_KEPT) this.#order.splice(0, this.#order.length - ORDER_KEPT);
    this.#total += 1;
  }

  /**
   * The methods called since call number `since` (a previous `total`), in the order they came:
   * which call came first, e.g. whether an UpdateService was sent with no read before it. Only the
   * last ORDER_KEPT calls are kept.
   */
  since(since: number): EmulatedMethod[] {
    return this.#order.slice(Math.max(0, this.#order.length - (this.#total - since)));
  }

  /** Calls so far, all methods together: a mark for `since`. */
  total(): number {
    return this.#total;
  }

  /** Calls so far, per method that was called at least once. */
  counts(): Partial<Record<EmulatedMethod, number>> {
    return Object.fromEntries(this.#counts);
  }
}
