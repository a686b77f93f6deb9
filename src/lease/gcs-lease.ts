import { performance } from 'node:perf_hooks';
import {
  type HeldLease,
  holderDeadline,
  holderMayAct,
  type LeaseRecord,
  type LeaseTiming,
  mayTakeOver,
  parseLeaseRecord,
  renewAt,
  retryDelay,
  type Sighting,
  sight,
  standbyPollInterval,
  takeOverAt,
} from '../core/lease.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../telemetry/logger.js';
import { sleep } from '../util/sleep.js';
import type { Leadership, LeaseScope } from './leadership.js';

/** What this instance knows of one lease right now (for `status`, /readyz and metrics). */
export interface LeaseView {
  scope: LeaseScope;
  /** This instance may act (holds the lease, the beforeActing hooks ran, the margin not reached). */
  leader: boolean;
  /** Who holds the object as last read or written; undefined when there is none (or it is unreadable). */
  holder?: string;
  /** ISO time that holder took the lease. */
  since?: string;
  generation?: number;
}

/** Counters the daemon's metrics follow. */
export interface LeaseObserver {
  tookOver(scope: LeaseScope): void;
  renewFailed(scope: LeaseScope, code: string): void;
  lost(scope: LeaseScope, why: string): void;
}

export interface GcsLeaseOptions {
  /** The cluster bucket with its prefix; the lease is the object `lease/<scope>` in it. */
  store: ObjectStore;
  scope: LeaseScope;
  /** Unique per process start (host, pid, a random part): two processes never share it. */
  holder: string;
  timing: LeaseTiming;
  logger: Logger;
  observer?: LeaseObserver;
  /** Monotonic ms; performance.now by default. Every lease time is measured on it. */
  monotonic?: () => number;
  /** Wall clock for the `since` people read; Date.now by default. */
  wallClock?: () => number;
}

type Hook = (signal: AbortSignal) => Promise<void>;

/**
 * A leader lease in one Cloud Storage object, `lease/<scope>`, holding {holder, since, ttl_ms}.
 * Taken with ifGenerationMatch (0 when absent, else the generation a standby saw unchanged for a
 * TTL on its own clock), renewed every third of the TTL with ifGenerationMatch on the held
 * generation; the decisions are in core/lease.ts. A failed renew (503, timeout) is retried every
 * tenth of the TTL until the holder's deadline; a lost compare-and-swap loses the lease at once.
 * `start()` begins the loop; `stop()` ends it and deletes a held lease (ifGenerationMatch) so a
 * standby takes over at its next read instead of after a TTL.
 */
export class GcsLease implements Leadership {
  readonly scope: LeaseScope;
  readonly #options: GcsLeaseOptions;
  readonly #name: string;
  readonly #now: () => number;
  readonly #wall: () => number;
  readonly #hooks: Hook[] = [];
  readonly #listeners = new Set<(leader: boolean) => void>();
  readonly #stop = new AbortController();
  #held: (HeldLease & { since: string }) | undefined;
  /** The beforeActing hooks ran for the held lease. */
  #ready = false;
  #hooksAbort: AbortController | undefined;
  #sighting: Sighting | undefined;
  #seen: LeaseRecord | undefined;
  #announced = false;
  #loop: Promise<void> | undefined;
  #notBefore = 0;
  /** A standby's reads are failing: logged when they start failing and when they work again. */
  #readFailing = false;

  constructor(options: GcsLeaseOptions) {
    this.scope = options.scope;
    this.#options = options;
    this.#name = `lease/${options.scope}`;
    this.#now = options.monotonic ?? (() => performance.now());
    this.#wall = options.wallClock ?? Date.now;
  }

  mayAct(): boolean {
    return this.#ready && this.#held !== undefined && holderMayAct(this.#held, this.#now(), this.#timing);
  }

  generation(): number | undefined {
    return this.mayAct() ? this.#held?.generation : undefined;
  }

  beforeActing(hook: Hook): () => void {
    this.#hooks.push(hook);
    return () => {
      const index = this.#hooks.indexOf(hook);
      if (index >= 0) this.#hooks.splice(index, 1);
    };
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  view(): LeaseView {
    const record = this.#held ? { holder: this.#options.holder, since: this.#held.since } : this.#seen;
    const generation = this.#held?.generation ?? this.#sighting?.generation;
    return {
      scope: this.scope,
      leader: this.mayAct(),
      ...(record ? { holder: record.holder, since: record.since } : {}),
      ...(generation ? { generation } : {}),
    };
  }

  /** Begins taking, renewing and watching the lease; idempotent. */
  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      if (!this.#stop.signal.aborted)
        this.#options.logger.error({ scope: this.scope, err: errorMessage(error) }, 'lease loop stopped');
    });
  }

  /** Stops acting at once, ends the loop and releases a held lease; idempotent. */
  async stop(): Promise<void> {
    this.#stop.abort(new Error('lease stopped'));
    this.#hooksAbort?.abort(new Error('lease stopped'));
    const held = this.#held;
    this.#held = undefined;
    this.#ready = false;
    this.#notify();
    await this.#loop;
    if (!held) return;
    try {
      await this.#options.store.delete(
        this.#name,
        { ifGenerationMatch: held.generation },
        AbortSignal.timeout(Math.min(2_000, this.#timing.ttlMs)),
      );
      this.#options.logger.info({ scope: this.scope }, 'lease released');
    } catch (error) {
      this.#options.logger.warn(
        { scope: this.scope, err: errorMessage(error) },
        'could not release the lease; a standby takes it after its TTL',
      );
    }
  }

  get #timing(): LeaseTiming {
    return this.#options.timing;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const held = this.#held;
      let wake: number;
      if (held) {
        if (this.#now() >= renewAt(held, this.#timing)) await this.#renew(held);
        const now = this.#now();
        const current = this.#held;
        if (current === held && now >= renewAt(held, this.#timing)) wake = now + retryDelay(this.#timing);
        else if (current) wake = renewAt(current, this.#timing);
        else wake = now + standbyPollInterval(this.#timing);
        // Wake at the margin too: listeners hear that acting stopped when it does.
        if (current && this.#ready)
          wake = Math.min(wake, holderDeadline(current, this.#timing) - this.#timing.marginMs);
      } else {
        await this.#watch();
        const now = this.#now();
        if (this.#held) wake = renewAt(this.#held, this.#timing);
        else {
          wake = now + standbyPollInterval(this.#timing);
          if (this.#sighting) wake = Math.min(wake, Math.max(now, takeOverAt(this.#sighting, this.#timing)));
          wake = Math.max(wake, this.#notBefore);
        }
      }
      this.#notify();
      await sleep(Math.max(0, wake - this.#now()), signal).catch(() => undefined);
      this.#notify();
    }
  }

  /** A standby's read of the object, and a take when it is absent or unchanged for a TTL. */
  async #watch(): Promise<void> {
    const now = this.#now();
    let generation = 0;
    let record: LeaseRecord | undefined;
    try {
      const read = await this.#options.store.read(
        this.#name,
        {},
        this.#requestSignal(this.#timing.ttlMs / 3),
      );
      generation = read.generation;
      const parsed = parseLeaseRecord(read.bytes.toString('utf8'));
      if ('problem' in parsed)
        this.#options.logger.warn({ scope: this.scope, problem: parsed.problem }, 'unreadable lease object');
      else record = parsed;
    } catch (error) {
      if (!(error instanceof RunwardenError && error.code === 'RW_STORAGE_NOT_FOUND')) {
        if (!this.#stop.signal.aborted && !this.#readFailing)
          this.#options.logger.warn({ scope: this.scope, err: errorMessage(error) }, 'cannot read the lease');
        this.#readFailing = true;
        return;
      }
    }
    if (this.#readFailing) this.#options.logger.info({ scope: this.scope }, 'reading the lease works again');
    this.#readFailing = false;
    this.#sighting = sight(this.#sighting, generation, record?.ttl_ms, now);
    this.#seen = record;
    if (now < this.#notBefore || !mayTakeOver(this.#sighting, now, this.#timing)) return;
    await this.#take(this.#sighting.generation);
  }

  async #take(observed: number): Promise<void> {
    const since = new Date(this.#wall()).toISOString();
    const startedAt = this.#now();
    try {
      const info = await this.#options.store.write(
        this.#name,
        this.#body(since),
        { ifGenerationMatch: observed, contentType: 'application/json' },
        this.#requestSignal(this.#timing.ttlMs / 3),
      );
      this.#held = { generation: info.generation, confirmedAt: startedAt, since };
      this.#sighting = undefined;
      this.#options.logger.info(
        { scope: this.scope, generation: info.generation, previous: this.#seen?.holder ?? null },
        'took the lease',
      );
      this.#options.observer?.tookOver(this.scope);
      this.#runHooks(this.#held);
    } catch (error) {
      // Another standby was faster (412), or the request failed: read again and decide again.
      this.#sighting = undefined;
      if (!this.#stop.signal.aborted)
        this.#options.logger.info({ scope: this.scope, err: errorMessage(error) }, 'did not take the lease');
    }
  }

  async #renew(held: HeldLease & { since: string }): Promise<void> {
    const startedAt = this.#now();
    const deadline = holderDeadline(held, this.#timing);
    try {
      const info = await this.#options.store.write(
        this.#name,
        this.#body(held.since),
        { ifGenerationMatch: held.generation, contentType: 'application/json' },
        this.#requestSignal(Math.max(1, deadline - startedAt)),
      );
      if (this.#held === held) this.#held = { ...held, generation: info.generation, confirmedAt: startedAt };
    } catch (error) {
      if (this.#stop.signal.aborted || this.#held !== held) return;
      const code = error instanceof RunwardenError ? error.code : 'RW_FAILED';
      if (code === 'RW_STORAGE_PRECONDITION') {
        await this.#afterLostSwap(held);
        return;
      }
      this.#options.observer?.renewFailed(this.scope, code);
      this.#options.logger.warn(
        { scope: this.scope, err: errorMessage(error), left_ms: Math.round(deadline - this.#now()) },
        'lease renew failed; retrying',
      );
      if (this.#now() >= deadline) this.#lose('its deadline passed without a renew');
    }
  }

  /**
   * A renew's compare-and-swap failed. Usually someone else took the lease: lost. But a renew of
   * ours cut short locally (timeout) may still have landed, changing the generation under us: when
   * the object still names this holder, its generation is adopted, the deadline left as it was.
   */
  async #afterLostSwap(held: HeldLease & { since: string }): Promise<void> {
    try {
      const read = await this.#options.store.read(
        this.#name,
        {},
        this.#requestSignal(this.#timing.ttlMs / 3),
      );
      const record = parseLeaseRecord(read.bytes.toString('utf8'));
      if (!('problem' in record) && record.holder === this.#options.holder && this.#held === held) {
        this.#held = { ...held, generation: read.generation };
        this.#options.logger.info(
          { scope: this.scope, generation: read.generation },
          'lease renew had landed',
        );
        return;
      }
    } catch {
      // Unknown: treated as lost, the safe side.
    }
    if (this.#held === held) this.#lose('another runwarden wrote the lease object');
  }

  #lose(why: string): void {
    this.#held = undefined;
    this.#ready = false;
    this.#hooksAbort?.abort(new Error(`lease lost: ${why}`));
    this.#sighting = undefined;
    this.#options.logger.warn({ scope: this.scope, why }, 'lost the lease: acting stopped');
    this.#options.observer?.lost(this.scope, why);
    this.#notify();
  }

  /** Runs the beforeActing hooks for a lease just taken, then lets this instance act. */
  #runHooks(held: HeldLease): void {
    const abort = new AbortController();
    this.#hooksAbort = abort;
    void (async () => {
      try {
        for (const hook of [...this.#hooks]) await hook(abort.signal);
      } catch (error) {
        if (abort.signal.aborted || this.#held?.generation !== held.generation) return;
        // Acting without what the hook prepares (the shared state) could undo another's decisions:
        // give the lease up, and let another runwarden (or this one, after a TTL) try.
        this.#options.logger.error(
          { scope: this.scope, err: errorMessage(error) },
          'preparing to act failed: giving the lease up',
        );
        const lost = this.#held;
        this.#lose('preparing to act failed');
        this.#notBefore = this.#now() + this.#timing.ttlMs;
        if (lost)
          await this.#options.store
            .delete(this.#name, { ifGenerationMatch: lost.generation }, this.#requestSignal(2_000))
            .catch(() => undefined);
        return;
      }
      if (abort.signal.aborted || this.#held === undefined) return;
      this.#ready = true;
      this.#notify();
    })();
  }

  #notify(): void {
    const leader = this.mayAct();
    if (leader === this.#announced) return;
    this.#announced = leader;
    if (!leader && this.#held && this.#ready)
      this.#options.logger.warn({ scope: this.scope }, 'lease margin reached without a renew: acting paused');
    for (const listener of this.#listeners) {
      try {
        listener(leader);
      } catch (error) {
        this.#options.logger.error({ scope: this.scope, err: errorMessage(error) }, 'lease listener failed');
      }
    }
  }

  #body(since: string): Buffer {
    const record: LeaseRecord = { holder: this.#options.holder, since, ttl_ms: this.#timing.ttlMs };
    return Buffer.from(JSON.stringify(record));
  }

  #requestSignal(timeoutMs: number): AbortSignal {
    return AbortSignal.any([this.#stop.signal, AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)))]);
  }
}
