/**
 * Counts requests being handled and refuses a slot past `max`, so that a flood of requests (each
 * holding a body buffer and its parse) cannot grow memory without bound. Synchronous: a slot is
 * taken or refused with no await in between.
 */
export class InFlightLimit {
  readonly max: number;
  #active = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`in-flight limit: expected a positive integer, got ${max}`);
    this.max = max;
  }

  get active(): number {
    return this.#active;
  }

  /** A release function for the slot taken (calling it twice releases once), or undefined when all are taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.#active >= this.max) return undefined;
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
    };
  }
}
