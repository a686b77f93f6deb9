/** Payloads of the restore drill's events (names in event-bus.ts). */
import type { DrillChecks } from '../core/drill-compare.js';

/** What started a drill: the daemon's `backup.drill` schedule or `runwarden backups drill`. */
export type DrillTrigger = 'schedule' | 'cli';

/**
 * The newest verified archive was restored into a temporary folder, every database passed
 * integrity_check and (with `checks` full) matched the manifest's row counts and schema, every
 * entry its hashes; the copy is removed.
 */
export interface DrillCompletedEvent {
  trigger: DrillTrigger;
  archive: string;
  checks: DrillChecks;
  databases: number;
  mediaFiles: number;
  /** Bytes restored (and removed again). */
  bytes: number;
  durationMs: number;
  /** When the drill finished, ms since the epoch. */
  finishedAt: number;
}

/**
 * A drill found a difference or could not run (no verified archive, not enough space, an
 * unreadable archive). `archive` is null when none was chosen; the copy is removed either way.
 */
export interface DrillFailedEvent {
  trigger: DrillTrigger;
  archive: string | null;
  code: string;
  error: string;
  /** Each difference found, one line each (empty when the drill could not run). */
  problems: string[];
  durationMs: number;
  /** When the drill ended, ms since the epoch. */
  finishedAt: number;
}
