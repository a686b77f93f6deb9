/** Payloads of the restore job's events (names in event-bus.ts). */

/** What one restore replaces: the main database, one tenant's, or the media folder. */
export type RestoreKind = 'db' | 'tenant' | 'media';

/** A database or the media folder was restored; `safetyCopy` is the replaced DB's copy, if any. */
export interface RestoreCompletedEvent {
  archive: string;
  kind: RestoreKind;
  name: string;
  target: string;
  safetyCopy: string | null;
  durationMs: number;
}

/** A restore was refused or failed; `code` is the error's stable code. */
export interface RestoreFailedEvent {
  archive: string;
  kind: RestoreKind;
  name: string;
  target: string;
  error: string;
  code: string;
}
