/**
 * When the daemon checkpoints its state store's WAL (see Store.deferCheckpoints): a checkpoint
 * blocks the event loop for its fsyncs, so it waits for a moment when nothing is on its way to a
 * traffic change (an alert being handled, a rollback running), and happens at most once a period.
 * Never put off longer than `maxDeferMs` past its due time, so a busy daemon's WAL stays bounded.
 */
export interface CheckpointTiming {
  /** A checkpoint is due this long (ms) after the last one. */
  periodMs: number;
  /** How long past due a checkpoint may wait for the daemon to be idle (ms). */
  maxDeferMs: number;
}

/** Whether to checkpoint now: `lastAt` the last checkpoint (or the start), ms on one clock. */
export function checkpointDue(timing: CheckpointTiming, now: number, lastAt: number, busy: boolean): boolean {
  const since = now - lastAt;
  if (since < timing.periodMs) return false;
  return !busy || since >= timing.periodMs + timing.maxDeferMs;
}
