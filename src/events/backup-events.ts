/**
 * Payloads of the backup job's events (names in event-bus.ts). `reason` says why a backup was
 * taken and `trigger` what started it; the compiler checks both wherever a backup is asked for.
 */

/** What started a backup: the cron schedule, a CLI command, the HTTP trigger, or the deploy watch. */
export type BackupTrigger = 'schedule' | 'cli' | 'http' | 'watch';

/**
 * Why runwarden itself takes a backup: `scheduled` (cron), `manual` (`runwarden backup`),
 * `pre-deploy` (before a deploy: `backup --reason pre-deploy`, `runwarden predeploy`, or the
 * restore point of a new watch), `pre-restore` (the safety backup before `runwarden restore`).
 */
export type BackupReason = 'scheduled' | 'manual' | 'pre-deploy' | 'pre-restore';

/**
 * Why and by what a backup was started, as one checked pair. Only the HTTP trigger carries a
 * reason in the caller's own words (`{"reason": "pre-deploy"}` from a CI pipeline; the route
 * checks its characters and length), so its reason is text.
 */
export type BackupCause =
  | { trigger: 'schedule'; reason: 'scheduled' }
  | { trigger: 'cli'; reason: 'manual' | 'pre-deploy' | 'pre-restore' }
  | { trigger: 'watch'; reason: 'pre-deploy' }
  | { trigger: 'http'; reason: string };

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
