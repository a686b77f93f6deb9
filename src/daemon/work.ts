import { FatalError } from '../core/errors.js';

export class ShuttingDownError extends FatalError {
  constructor(what: string) {
    super('RW_SHUTTING_DOWN', `${what}: runwarden is shutting down and accepts no new work`);
  }
}

/**
 * Tracks running work so shutdown can wait for it. After `drain` starts, new work is refused; work
 * still running when the grace period ends has its signal aborted and is awaited once more.
 */
export class WorkTracker {
  readonly #running = new Map<Promise<unknown>, { name: string; controller: AbortController }>();
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  get runningNames(): string[] {
    return [...this.#running.values()].map((entry) => entry.name);
  }

  /** Runs `work` unless draining; its signal aborts at the end of the grace period. */
  run<T>(name: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.#draining) return Promise.reject(new ShuttingDownError(name));
    const controller = new AbortController();
    const promise = work(controller.signal);
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.#running.set(settled, { name, controller });
    void settled.then(() => this.#running.delete(settled));
    return promise;
  }

  /**
   * Refuses new work, waits up to `graceMs` for running work, then aborts what is left and waits
   * for it to unwind (bounded by `abortWaitMs`). Resolves with the names of work that was aborted.
   */
  async drain(graceMs: number, abortWaitMs = 5_000): Promise<string[]> {
    this.#draining = true;
    if (await this.#settleWithin(graceMs)) return [];
    const aborted = this.runningNames;
    for (const entry of this.#running.values()) entry.controller.abort(new ShuttingDownError(entry.name));
    await this.#settleWithin(abortWaitMs);
    return aborted;
  }

  async #settleWithin(ms: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const all = Promise.all(this.#running.keys()).then(() => true as const);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }
}
