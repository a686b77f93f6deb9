/**
 * Payloads of the off-site copy's events (names in event-bus.ts). Times are ms since the epoch,
 * sizes bytes; `objectName` is relative to the configured prefix.
 */

/** An archive's copy in the bucket was confirmed (size and CRC32C read back equal to the file). */
export interface OffsiteCopiedEvent {
  file: string;
  objectName: string;
  generation: number;
  size: number;
  durationMs: number;
  /** `uploaded` now, or `found`: an earlier attempt had landed and it matched. */
  outcome: 'uploaded' | 'found';
  confirmedAt: number;
}

/** An attempt to copy an archive failed; it stays in the backlog and is tried again at `nextAttemptAt`. */
export interface OffsiteFailedEvent {
  file: string;
  /** The error's stable code (RW_STORAGE_UNAVAILABLE, RW_OFFSITE_MISMATCH, ...). */
  code: string;
  error: string;
  attempts: number;
  nextAttemptAt: number;
  durationMs: number;
}

/** The archives not yet confirmed off-site, after each pass of the uploader. */
export interface OffsiteBacklogEvent {
  count: number;
  bytes: number;
  /** When the oldest of them was taken; undefined when there is none. */
  oldestStartedAt?: number;
}

/** Remote retention ran over the bucket's copies. */
export interface OffsitePrunedEvent {
  retained: number;
  deleted: string[];
  dryRun: boolean;
}
