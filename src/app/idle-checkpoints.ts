import { type CheckpointTiming, checkpointDue } from '../core/wal-checkpoint.js';
import { errorMessage } from '../core/errors.js';
import type { CheckpointResult, Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * A checkpoint every 30 s at most: the bench's daemon (1 s polls, an action a second) filled SQLite's
 * 1,000 pages about once a minute, so the WAL stays near SQLite's own size, with as few fsyncs.
 */
export const CHECKPOINT_TIMING: CheckpointTiming = { periodMs: 30_000, maxDeferMs: 30_000 };

/** How often the timer looks whether a checkpoint is due and the daemon idle. */
const LOOK_EVERY_MS = 1_000;

export interface IdleCheckpointOptions {
  store: Pick<Store, 'deferCheckpoints' | 'checkpoint'>;
  /** Something is on its way to a traffic change: an alert being handled, a rollback running. */
  busy: () => boolean;
  logger: Logger;
  timing?: CheckpointTiming;
  lookEveryMs?: number;
  /** Monotonic ms; performance.now by default. */
  now?: () => number;
  onCheckpoint?: (result: CheckpointResult) => void;
}

/**
 * Takes the state store's WAL checkpoints out of its commits (where SQLite runs them, fsyncs
 * included, in whichever commit passes 1,000 pages: maybe an alert's claim just before its
 * UpdateService) and runs them from a timer on the main thread while the daemon is idle. A worker
 * thread would keep them off the event loop entirely but costs 8-10 MiB of RSS for its isolate.
 * A failed checkpoint is logged once until one works again, and is tried again a period later. Returns the
 * function that stops the timer (the store's close checkpoints what is left).
 */
export function scheduleIdleCheckpoints(options: IdleCheckpointOptions): () => void {
  const timing = options.timing ?? CHECKPOINT_TIMING;
  const now = options.now ?? (() => performance.now());
  options.store.deferCheckpoints();
  let lastAt = now();
  let failing = false;
  const timer = setInterval(() => {
    const at = now();
    if (!checkpointDue(timing, at, lastAt, options.busy())) return;
    lastAt = at;
    try {
      const result = options.store.checkpoint();
      if (failing) options.logger.info('state store checkpoint works again');
      failing = false;
      options.onCheckpoint?.(result);
    } catch (error) {
      if (!failing)
        options.logger.warn({ err: errorMessage(error) }, 'state store checkpoint failed: retried later');
      failing = true;
    }
  }, options.lookEveryMs ?? LOOK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
