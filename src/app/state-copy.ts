import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import {
  checkCopySchema,
  decodeStateCopy,
  encodeStateCopy,
  type RestoreDecision,
  restoreDecision,
} from '../core/state-copy.js';
import type { Leadership } from '../lease/leadership.js';
import { MIGRATIONS } from '../store/migrations/index.js';
import { STORE_FILE, Store } from '../store/store.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { StateCopyMetrics } from '../telemetry/metrics-state-copy.js';
import { sleep } from '../util/sleep.js';
import { VERSION } from '../version.js';
import type { DaemonContext } from './daemon-context.js';

/** The copy's object name under the cluster prefix. */
export const STATE_COPY_OBJECT = 'state/watch.sqlite';
/** The local decision state a restore replaced, kept beside the store (one, the newest). */
export const REPLACED_STATE_FILE = 'runwarden.before-state-restore.db';

export interface StateCopyOptions {
  store: Store;
  /** The cluster bucket (prefix applied). */
  objects: ObjectStore;
  /** Copies are written only while it may act for `watch`; a takeover restores first. */
  leadership: Leadership;
  /** `cluster.state_copy_delay`: how long changes gather before a copy (the most it is behind). */
  delayMs: number;
  /** Written into each copy's header: who wrote it. */
  holder: string;
  stateDir: string;
  logger: Logger;
  metrics: StateCopyMetrics;
  clock?: Clock;
}

/** What the status line shows. */
export interface StateCopyStatus {
  /** Epoch ms of the last copy this process wrote, or undefined. */
  lastCopyAt: number | undefined;
  /** The generation last written or read; 0: none in the bucket. */
  generation: number | undefined;
  /** Why copying stopped (another leader wrote), or undefined while it runs. */
  stopped: string | undefined;
}

/**
 * Keeps the acting watcher's decision state in the cluster bucket: a consistent image of the store
 * after every change (at most `delayMs` behind), written with `ifGenerationMatch` of the generation
 * it last wrote or read, so a copy never overwrites another leader's; and, before this instance
 * acts (at start, on taking the lease), replaces the local decision state with a newer copy.
 */
export class StateCopier {
  readonly #o: StateCopyOptions;
  readonly #clock: Clock;
  #generation: number | undefined;
  #token: string | undefined;
  #changedAt: number | undefined;
  #lastCopyAt: number | undefined;
  #stopped: string | undefined;
  /** SHA-256 of the image this process last wrote: an identical one is not sent again. */
  #digest: string | undefined;

  constructor(options: StateCopyOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  status(): StateCopyStatus {
    return { lastCopyAt: this.#lastCopyAt, generation: this.#generation, stopped: this.#stopped };
  }

  /**
   * Replaces the local decision state with the bucket's copy when that copy is newer (another
   * leader wrote it after this store last synced) or the local store is empty. A copy of a newer
   * store schema is refused (RW_STATE_COPY_TOO_NEW) with the local store untouched, and copying
   * stays stopped: this runwarden must not overwrite it either. Idempotent.
   */
  async restoreIfNewer(signal: AbortSignal): Promise<RestoreDecision> {
    const { store, objects, logger } = this.#o;
    const remote = await objects.stat(STATE_COPY_OBJECT, signal);
    const decision = restoreDecision(
      { hasState: store.hasSharedState(), copiedGeneration: store.copyMark?.generation },
      remote?.generation,
    );
    if (decision.kind === 'none') {
      this.#generation = remote?.generation ?? 0;
      this.#stopped = undefined;
      // The local state may hold changes the bucket lacks (or the bucket none at all): copy soon.
      this.#token = store.changeToken();
      if (store.hasSharedState()) this.#changedAt ??= this.#clock();
      return decision;
    }
    const { bytes, generation } = await objects.read(STATE_COPY_OBJECT, {}, signal);
    const { header, image } = decodeStateCopy(bytes, STATE_COPY_OBJECT);
    try {
      checkCopySchema(header, MIGRATIONS.at(-1)?.version ?? 0, STATE_COPY_OBJECT);
    } catch (error) {
      this.#stopped = errorMessage(error);
      logger.error(
        { generation, err: errorMessage(error) },
        'state copy refused: written by a newer runwarden',
      );
      throw error;
    }
    const folder = await mkdtemp(path.join(this.#o.stateDir, '.runwarden-state-restore-'));
    try {
      await writeFile(path.join(folder, STORE_FILE), image);
      // An older copy is migrated to this schema as any store would be.
      Store.open(folder).close();
      if (store.hasSharedState())
        await writeFile(path.join(this.#o.stateDir, REPLACED_STATE_FILE), store.snapshot());
      const restored = store.restoreSharedState(path.join(folder, STORE_FILE), {
        generation,
        writtenAt: header.writtenAt,
        holder: header.holder,
      });
      this.#generation = generation;
      this.#stopped = undefined;
      this.#token = store.changeToken();
      this.#changedAt = undefined;
      this.#o.metrics.restores.inc();
      logger.warn(
        {
          generation,
          holder: header.holder,
          written_at: new Date(header.writtenAt).toISOString(),
          why: decision.why,
          rows: restored.rows,
        },
        'decision state restored from the cluster bucket',
      );
      return decision;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  /**
   * One look: notes a change, and copies once a change has waited `delayMs`. Copies only while
   * this instance may act and copying was not stopped. Returns whether it wrote a copy.
   */
  async step(signal: AbortSignal): Promise<boolean> {
    if (this.#stopped !== undefined || this.#generation === undefined || !this.#o.leadership.mayAct())
      return false;
    const now = this.#clock();
    if (this.#o.store.changeToken() !== this.#token) this.#changedAt ??= now;
    if (this.#changedAt === undefined || now < this.#changedAt + this.#o.delayMs) return false;
    return this.copyNow(signal);
  }

  /** Whether a change waits to be copied (and copying may go on). */
  pending(): boolean {
    if (this.#stopped !== undefined || this.#generation === undefined) return false;
    return this.#changedAt !== undefined || this.#o.store.changeToken() !== this.#token;
  }

  /** Writes a copy now (a change is pending or not). Returns whether it was written. */
  async copyNow(signal: AbortSignal): Promise<boolean> {
    const { store, objects, logger, metrics } = this.#o;
    if (this.#stopped !== undefined || this.#generation === undefined) return false;
    const token = store.changeToken();
    const writtenAt = this.#clock();
    this.#changedAt = undefined;
    let written: number;
    let digest: string;
    try {
      const image = store.sharedSnapshot();
      digest = createHash('sha256').update(image).digest('hex');
      if (digest === this.#digest) {
        // Only a poll's bookkeeping changed (left out of the image): nothing to send.
        this.#token = token;
        return false;
      }
      const header = {
        schemaVersion: store.schemaVersion,
        writtenAt,
        holder: this.#o.holder,
        runwarden: VERSION,
      };
      const info = await objects.write(
        STATE_COPY_OBJECT,
        encodeStateCopy(header, image),
        {
          ifGenerationMatch: this.#generation,
          contentType: 'application/vnd.runwarden.state',
          metadata: {
            schema_version: String(header.schemaVersion),
            written_at: new Date(writtenAt).toISOString(),
            holder: this.#o.holder,
          },
        },
        signal,
      );
      written = info.generation;
      this.#digest = digest;
    } catch (error) {
      if (signal.aborted) throw error;
      const code = error instanceof RunwardenError ? error.code : 'other';
      metrics.failed(code);
      if (code === 'RW_STORAGE_PRECONDITION') {
        this.#stopped = `another runwarden wrote ${STATE_COPY_OBJECT} after generation ${this.#generation}; copying stopped`;
        logger.error(
          { object: STATE_COPY_OBJECT, generation: this.#generation, err: errorMessage(error) },
          'state copy stopped: another runwarden wrote the shared state (two leaders?); it is never overwritten',
        );
      } else {
        // Tried again after another delay; the change stays pending.
        this.#changedAt = this.#clock();
        logger.warn({ object: STATE_COPY_OBJECT, err: errorMessage(error) }, 'state copy failed; will retry');
      }
      return false;
    }
    this.#generation = written;
    this.#lastCopyAt = writtenAt;
    const unchanged = store.changeToken() === token;
    store.markCopied({ generation: written, writtenAt, holder: this.#o.holder });
    // The mark is this copier's own write, not a change to copy; a change made during the upload is.
    this.#token = unchanged ? store.changeToken() : token;
    metrics.copies.inc();
    metrics.lastCopy.set(writtenAt / 1000);
    logger.debug({ generation: written }, 'state copied to the cluster bucket');
    return true;
  }

  /** Looks for changes every quarter of the delay (at most 250 ms) until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const every = Math.max(10, Math.min(250, this.#o.delayMs / 4));
    while (!signal.aborted) {
      try {
        await this.step(signal);
        await sleep(every, signal);
      } catch (error) {
        if (signal.aborted) return;
        this.#o.logger.error({ err: errorMessage(error) }, 'state copy loop failed');
        await sleep(this.#o.delayMs, signal).catch(() => {});
      }
    }
  }
}

/**
 * The daemon's state copy: on when `cluster` is configured and this daemon watches (role `watch`
 * or `all`); `leadership` is the `watch` lease. Returns the closer, or undefined when off.
 */
export async function daemonStateCopy(
  context: DaemonContext,
  leadership: Leadership,
): Promise<(() => Promise<void>) | undefined> {
  const { config, app } = context;
  const objects = await app.clusterStore();
  if (!config.cluster || !objects || config.role === 'backup') return undefined;
  const started = await startStateCopy(
    {
      store: context.store,
      objects,
      leadership,
      delayMs: config.cluster.state_copy_delay,
      holder: `${hostname()}:${process.pid}`,
      stateDir: config.state_dir,
      logger: context.logger.child({ component: 'state-copy' }),
      metrics: context.metrics.stateCopy,
    },
    AbortSignal.timeout(60_000),
  );
  return started.close;
}

/**
 * Wires the copier into a daemon: restores before acting (now, at start, and on every takeover), then copies in the background. Returns the copier and the closer that stops it
 * after a last copy of pending changes.
 */
export async function startStateCopy(
  options: StateCopyOptions,
  signal: AbortSignal,
): Promise<{ copier: StateCopier; close(): Promise<void> }> {
  const copier = new StateCopier(options);
  const offHook = options.leadership.beforeActing((hookSignal) =>
    copier.restoreIfNewer(hookSignal).then(() => {}),
  );
  // At start whether or not this instance leads yet: a standby (or a watcher whose lease is not
  // taken yet) then judges from the newest decisions instead of an empty disk, and the hook above
  // restores again on takeover only if the leader wrote since.
  await copier.restoreIfNewer(signal);
  const stop = new AbortController();
  const loop = copier.run(stop.signal);
  return {
    copier,
    close: async () => {
      offHook();
      stop.abort(new Error('daemon stopping'));
      await loop;
      if (options.leadership.mayAct() && copier.pending())
        await copier.copyNow(AbortSignal.timeout(5_000)).catch(() => false);
    },
  };
}
