/**
 * Payloads of the backup job's events (names in event-bus.ts). `reason` says why a backup was
 * taken and `trigger` what started it; the compiler checks both wherever a backup is asked for.
 */
import type { BackupRequest } from '../core/backup-request.js';

export type { BackupTrigger } from '../core/backup-request.js';

/** Why and by what a backup was started, as one checked pair (see core/backup-request.ts). */
export type BackupCause = BackupRequest;

/** A backup run began (before it waits for the backup lock); `completed` or `failed` follows. */
export type BackupStartedEvent = BackupCause;

/** A backup was written, verified, renamed into place and cataloged. Sizes in bytes. */
export type BackupCompletedEvent = BackupCause & {
  file: string;
  size: number;
  sha256: string;
  entries: number;
  durationMs: number;
  snapshotRestarts: number;
  /** Archive bytes (after compression) per method. */
  bytesByMethod: { deflate: number; store: number };
  /** When the run finished, ms since the epoch. */
  finishedAt: number;
  warnings: string[];
};

/** A backup failed; no partial archive is left. `code` is the error's stable code. */
export type BackupFailedEvent = BackupCause & {
  code: string;
  error: string;
  durationMs: number;
  snapshotRestarts: number;
};

/** Retention ran: how many backups it kept and which archives it deleted (none in a dry run). */
export interface BackupsPrunedEvent {
  retained: number;
  deleted: string[];
  dryRun: boolean;
}
