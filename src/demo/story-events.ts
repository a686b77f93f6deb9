import type { EventBus, RunwardenEvents } from '../events/event-bus.js';
import { sleep } from '../util/sleep.js';

type Name = keyof RunwardenEvents & string;

/** A story step that did not happen in time; `step` is its number, the message says what was missing. */
export class StepMissedError extends Error {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super(message);
    this.name = 'StepMissedError';
  }
}

/**
 * Records the daemon's events from the moment it is built, so the story can wait for an event that
 * may already have been emitted while it was doing something else (no race between acting and
 * subscribing). Waiting always has a deadline.
 */
export class StoryEvents {
  readonly #log: Array<{ name: Name; payload: unknown }> = [];
  readonly #wakers = new Set<() => void>();
  readonly #offs: Array<() => void> = [];

  constructor(bus: EventBus, names: readonly Name[]) {
    for (const name of names) {
      this.#offs.push(
        bus.on(name, (payload) => {
          this.#log.push({ name, payload });
          for (const wake of [...this.#wakers]) wake();
        }),
      );
    }
  }

  /** A position in the log: `wait(..., { from: mark })` ignores events recorded before it. */
  mark(): number {
    return this.#log.length;
  }

  /** Recorded events of `name` since `from` that satisfy `match`. */
  all<K extends Name>(
    name: K,
    match: (payload: RunwardenEvents[K]) => boolean = () => true,
    from = 0,
  ): RunwardenEvents[K][] {
    return this.#log
      .slice(from)
      .filter((entry) => entry.name === name && match(entry.payload as RunwardenEvents[K]))
      .map((entry) => entry.payload as RunwardenEvents[K]);
  }

  /**
   * The first event `name` recorded at or after `from` that satisfies `match`, waiting for it up to
   * `timeoutMs`. Rejects with StepMissedError(step, `missing`) when it does not come in time, or
   * with the signal's reason when `signal` aborts.
   */
  wait<K extends Name>(
    name: K,
    options: {
      match?: (payload: RunwardenEvents[K]) => boolean;
      from?: number;
      timeoutMs: number;
      step: number;
      missing: string;
      signal?: AbortSignal;
    },
  ): Promise<RunwardenEvents[K]> {
    const match = options.match ?? (() => true);
    const find = () => this.all(name, match, options.from ?? 0)[0];
    return new Promise((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        options.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const check = () => {
        const found = find();
        if (found !== undefined) finish(() => resolve(found));
      };
      const onAbort = () => finish(() => reject(options.signal?.reason));
      const timer = setTimeout(
        () => finish(() => reject(new StepMissedError(options.step, options.missing))),
        options.timeoutMs,
      );
      this.#wakers.add(check);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  close(): void {
    for (const off of this.#offs.splice(0)) off();
    this.#wakers.clear();
  }
}

/**
 * Polls `check` every `everyMs` until it returns a value, for at most `timeoutMs`; then rejects
 * with StepMissedError(step, missing). For facts the daemon does not announce as events (what the
 * emulator served, what its traffic is).
 */
export async function pollUntil<T>(
  check: () => T | undefined,
  options: { timeoutMs: number; step: number; missing: string; everyMs?: number; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new StepMissedError(options.step, options.missing);
    await sleep(options.everyMs ?? 20, options.signal);
  }
}
