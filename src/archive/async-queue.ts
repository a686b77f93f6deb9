/**
 * A FIFO between one producer and one consumer. The queue itself is unbounded: callers bound what
 * it holds with a ByteBudget. `fail` wakes the consumer with the error; `close` ends it cleanly.
 */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  #waiter: { resolve: (item: T | undefined) => void; reject: (error: unknown) => void } | undefined;
  #closed = false;
  #failure: { error: unknown } | undefined;

  push(item: T): void {
    if (this.#failure) throw this.#failure.error;
    if (this.#closed) throw new Error('AsyncQueue: push after close');
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  /** The next item; undefined once the queue is closed and drained; rejects once it failed. */
  next(): Promise<T | undefined> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  close(): void {
    this.#closed = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve(undefined);
  }

  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#items.length = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }
}

/**
 * Bytes a pipeline may hold at once. `acquire` waits (first come, first served) until the bytes
 * fit; `release` gives them back. An item larger than the whole budget passes once nothing else
 * is held, so it cannot wait forever. After `fail`, every waiter and later acquire rejects.
 */
export class ByteBudget {
  readonly capacity: number;
  #held = 0;
  readonly #waiters: Array<{ bytes: number; wake: () => void }> = [];
  #failure: { error: unknown } | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  async acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#failure) throw this.#failure.error;
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#held += bytes;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        bytes,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          if (this.#failure) reject(this.#failure.error);
          else resolve();
        },
      };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.#held -= bytes;
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]?.bytes ?? 0)) {
      const waiter = this.#waiters.shift();
      if (!waiter) break;
      this.#held += waiter.bytes;
      waiter.wake();
    }
  }

  fail(error: unknown): void {
    this.#failure ??= { error };
    for (const waiter of this.#waiters.splice(0)) waiter.wake();
  }

  #fits(bytes: number): boolean {
    return this.#held === 0 || this.#held + bytes <= this.capacity;
  }
}
