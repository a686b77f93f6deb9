import type { BackupTrigger } from '../events/backup-events.js';
import type { SchemaFingerprint } from '../core/schema-change.js';

/** A finished, verified backup taken before (or as) a deploy is watched. */
export interface BackupTaken {
  /** Absolute path of the archive. */
  file: string;
  /** Its catalog id, when it has one. */
  id: number | null;
  /** ms since the epoch. */
  takenAt: number;
}

/**
 * Takes the pre-deploy backup (the guide's "backup before each update"). Resolves once the archive
 * is written and verified; rejects with the backup's own errors (RetryableError / FatalError) or
 * the signal's reason. Never restores anything.
 */
export interface PreDeployBackup {
  take(
    request: { service: string; trigger: Extract<BackupTrigger, 'watch' | 'cli'> },
    signal: AbortSignal,
  ): Promise<BackupTaken>;
}

/**
 * Reads the application's schema fingerprint, main and tenant databases (read-only, never writes).
 * Resolves null when the main database does not exist; rejects with a FatalError when it cannot be read.
 */
export interface SchemaInspector {
  fingerprint(signal: AbortSignal): Promise<SchemaFingerprint | null>;
}
