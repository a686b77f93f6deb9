import { abortable } from '../google/retry.js';

/** One batched call: reads each member's answer with `answerOf` (which may throw for one member). */
export type BatchRun<M, R> = (members: readonly M[], signal: AbortSignal) => Promise<(member: M) => R>;

interface Waiting<M, R> {
  member: M;
  signal: AbortSignal;
  resolve(value: R): void;
  reject(error: unknown): void;
}

interface Open<M, R> {
  waiting: Waiting<M, R>[];
  timer: NodeJS.Immediate;
}

/**
 * Reads asked separately, run together: reads with the same key asked in the same turn of the event
 * loop go out as one call of at most `maxMembers` members (a full batch goes at once), at the end of
 * that turn (setImmediate). The guard passes of every service fire in the same turn (their interval
 * timers share the loop's time, so they stay together), and the watch ticks of one poll go on
 * together from the same listing; a read that comes alone (a tick nudged by a failed probe) waits
 * for nothing but the end of its turn. Each read settles with its own answer, or with the call's
 * error (the same error for every member). Each read stops waiting when its own signal aborts; the
 * call itself is aborted once every member has stopped waiting.
 */
export class ReadBatches<M, R> {
  readonly #open = new Map<string, Open<M, R>>();

  constructor(
    private readonly run: BatchRun<M, R>,
    private readonly options: { maxMembers: number },
  ) {}

  read(key: string, member: M, signal: AbortSignal): Promise<R> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const answer = new Promise<R>((resolve, reject) => {
      let open = this.#open.get(key);
      if (!open) {
        const timer = setImmediate(() => this.#flush(key));
        open = { waiting: [], timer };
        this.#open.set(key, open);
      }
      open.waiting.push({ member, signal, resolve, reject });
      if (open.waiting.length >= this.options.maxMembers) this.#flush(key);
    });
    return abortable(answer, signal);
  }

  #flush(key: string): void {
    const open = this.#open.get(key);
    if (!open) return;
    this.#open.delete(key);
    clearImmediate(open.timer);
    // A read whose signal aborted while it waited has already been rejected (abortable).
    const live = open.waiting.filter((waiting) => !waiting.signal.aborted);
    if (live.length === 0) return;
    const controller = new AbortController();
    let waiting = live.length;
    const onAbort = () => {
      waiting -= 1;
      if (waiting === 0) controller.abort(new Error('every read of the batch was aborted'));
    };
    for (const one of live) one.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      for (const one of live) one.signal.removeEventListener('abort', onAbort);
    };
    this.run(
      live.map((one) => one.member),
      controller.signal,
    ).then(
      (answerOf) => {
        done();
        for (const one of live) {
          try {
            one.resolve(answerOf(one.member));
          } catch (error) {
            one.reject(error);
          }
        }
      },
      (error: unknown) => {
        done();
        for (const one of live) one.reject(error);
      },
    );
  }
}
