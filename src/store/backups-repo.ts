import type { Db } from './db.js';

/**
 * A cataloged archive. Times are ISO-8601 UTC. `status` is derived: `verified` while the last
 * verification passed, `failed` after a re-verification failed, `unverified` otherwise.
 */
export interface BackupRecord {
  id: number;
  /** Absolute path of the archive. */
  file: string;
  /** Bytes of the whole ZIP. */
  size: number;
  /** SHA-256 (hex) of the whole ZIP. */
  sha256: string;
  /**
   * SHA-256 (hex) of the archive's manifest.json (uncompressed bytes), or null for a row cataloged
   * without it (before migration 007). A restore authenticates the manifest with it.
   */
  manifestSha256: string | null;
  /** `manual`, `pre-deploy`, `scheduled`, ... */
  reason: string;
  /** `cli`, `schedule`, `http`, `import`. */
  trigger: string;
  /** When the backup run started: retention's time of this backup. */
  startedAt: string;
  finishedAt: string;
  /** Number of data entries (manifest.json not counted). */
  entries: number;
  verifiedAt: string | null;
  verifyError: string | null;
  /** Recorded by `backups import` rather than by the run that wrote it. */
  imported: boolean;
  status: 'verified' | 'unverified' | 'failed';
  /** Its copy in the bucket; null while off-site copies are off or it was never tried. */
  offsite: OffsiteState | null;
}

/**
 * An archive's off-site copy as the catalog knows it. `confirmedAt` (ISO) is set once the object's
 * size and CRC32C read back matched the file; until then the attempts so far, the last error and
 * when the next attempt is due.
 */
export interface OffsiteState {
  /** Full object name (prefix included) of the confirmed copy; null until confirmed. */
  objectName: string | null;
  generation: number | null;
  confirmedAt: string | null;
  attempts: number;
  error: string | null;
  nextAttemptAt: string | null;
}

/** A confirmed copy, as copyOffsite (or an import from the bucket) reports it. */
export interface ConfirmedCopy {
  objectName: string;
  generation: number;
  confirmedAt: Date;
}

/** What a finished, verified backup run (or an import) records. */
export interface NewBackupRecord {
  file: string;
  size: number;
  sha256: string;
  /** SHA-256 (hex) of the archive's manifest.json bytes, when the writer knows it. */
  manifestSha256?: string;
  reason: string;
  trigger: string;
  startedAt: Date;
  finishedAt: Date;
  entries: number;
  verifiedAt: Date;
  imported?: boolean;
}

interface Row {
  id: number;
  file: string;
  size: number;
  sha256: string;
  manifest_sha256: string | null;
  reason: string;
  triggered_by: string;
  started_at: string;
  finished_at: string;
  entries: number;
  verified_at: string | null;
  verify_error: string | null;
  imported: number;
  offsite_object: string | null;
  offsite_generation: number | null;
  offsite_confirmed_at: string | null;
  offsite_attempts: number;
  offsite_error: string | null;
  offsite_next_attempt_at: string | null;
}

/**
 * The `backups` table (migration 002): the catalog of archives list, prune and restore trust. Each
 * write is one statement, so a crash leaves either the old row or the new one.
 */
export class BackupsRepo {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Records (or, for a file recorded before, replaces) a verified backup; returns the row. A
   * replacement without `manifestSha256` keeps the one recorded only while the file's SHA-256 is
   * the same (same bytes, same manifest).
   */
  record(backup: NewBackupRecord): BackupRecord {
    this.#db
      .prepare(
        `INSERT INTO backups (file, size, sha256, manifest_sha256, reason, triggered_by, started_at,
                              finished_at, entries, verified_at, verify_error, imported)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
         ON CONFLICT (file) DO UPDATE SET
           manifest_sha256 = COALESCE(excluded.manifest_sha256,
             CASE WHEN excluded.sha256 = backups.sha256 THEN backups.manifest_sha256 END),
           size = excluded.size, sha256 = excluded.sha256, reason = excluded.reason,
           triggered_by = excluded.triggered_by, started_at = excluded.started_at,
           finished_at = excluded.finished_at, entries = excluded.entries,
           verified_at = excluded.verified_at, verify_error = NULL, imported = excluded.imported,
           -- Other bytes under the same name: the copy in the bucket is not theirs.
           offsite_object = CASE WHEN excluded.sha256 = backups.sha256 THEN backups.offsite_object END,
           offsite_generation = CASE WHEN excluded.sha256 = backups.sha256 THEN backups.offsite_generation END,
           offsite_confirmed_at = CASE WHEN excluded.sha256 = backups.sha256 THEN backups.offsite_confirmed_at END`,
      )
      .run(
        backup.file,
        backup.size,
        backup.sha256,
        backup.manifestSha256 ?? null,
        backup.reason,
        backup.trigger,
        backup.startedAt.toISOString(),
        backup.finishedAt.toISOString(),
        backup.entries,
        backup.verifiedAt.toISOString(),
        backup.imported ? 1 : 0,
      );
    return this.get(backup.file) as BackupRecord;
  }

  get(file: string): BackupRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM backups WHERE file = ?').get(file) as Row | undefined;
    return row && toRecord(row);
  }

  /** Every cataloged backup, newest first. */
  list(): BackupRecord[] {
    const rows = this.#db.prepare('SELECT * FROM backups ORDER BY started_at DESC, id DESC').all() as Row[];
    return rows.map(toRecord);
  }

  /**
   * Records the manifest's SHA-256 of a row that lacks it, once the caller has proven the file's
   * SHA-256 to be the cataloged `sha256` (the manifest it read is then the one cataloged). Does
   * nothing when the row's SHA-256 differs or it already has one. Returns whether it was recorded.
   */
  recordManifestSha256(file: string, sha256: string, manifestSha256: string): boolean {
    return (
      this.#db
        .prepare(
          'UPDATE backups SET manifest_sha256 = ? WHERE file = ? AND sha256 = ? AND manifest_sha256 IS NULL',
        )
        .run(manifestSha256, file, sha256).changes > 0
    );
  }

  /** A re-verification passed (and the file's SHA-256 still matches the row): trusted again. */
  markVerified(file: string, at: Date): void {
    this.#db
      .prepare('UPDATE backups SET verified_at = ?, verify_error = NULL WHERE file = ?')
      .run(at.toISOString(), file);
  }

  /** A re-verification failed (or the file is gone): the archive is no longer trusted. */
  markFailed(file: string, error: string): void {
    this.#db
      .prepare('UPDATE backups SET verified_at = NULL, verify_error = ? WHERE file = ?')
      .run(error, file);
  }

  /**
   * Verified archives whose copy is not confirmed yet, oldest first: the off-site backlog. With
   * `dueAt`, only those whose next attempt is due by then.
   */
  offsitePending(dueAt?: Date): BackupRecord[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM backups
         WHERE offsite_confirmed_at IS NULL AND verified_at IS NOT NULL
           AND (? IS NULL OR offsite_next_attempt_at IS NULL OR offsite_next_attempt_at <= ?)
         ORDER BY started_at ASC, id ASC`,
      )
      .all(dueAt?.toISOString() ?? null, dueAt?.toISOString() ?? null) as Row[];
    return rows.map(toRecord);
  }

  /** The archive's copy is confirmed in the bucket: it leaves the backlog. */
  confirmOffsite(file: string, copy: ConfirmedCopy): boolean {
    return (
      this.#db
        .prepare(
          `UPDATE backups SET offsite_object = ?, offsite_generation = ?, offsite_confirmed_at = ?,
             offsite_error = NULL, offsite_next_attempt_at = NULL
           WHERE file = ?`,
        )
        .run(copy.objectName, copy.generation, copy.confirmedAt.toISOString(), file).changes > 0
    );
  }

  /** An attempt to copy it failed: counted, with the error and when to try again. */
  recordOffsiteFailure(file: string, error: string, nextAttemptAt: Date): boolean {
    return (
      this.#db
        .prepare(
          `UPDATE backups SET offsite_attempts = offsite_attempts + 1, offsite_error = ?,
             offsite_next_attempt_at = ?
           WHERE file = ? AND offsite_confirmed_at IS NULL`,
        )
        .run(error, nextAttemptAt.toISOString(), file).changes > 0
    );
  }

  /** Forgets an archive (after prune deleted it). Returns whether a row was removed. */
  remove(file: string): boolean {
    return this.#db.prepare('DELETE FROM backups WHERE file = ?').run(file).changes > 0;
  }
}

function toRecord(row: Row): BackupRecord {
  return {
    id: row.id,
    file: row.file,
    size: row.size,
    sha256: row.sha256,
    manifestSha256: row.manifest_sha256,
    reason: row.reason,
    trigger: row.triggered_by,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    entries: row.entries,
    verifiedAt: row.verified_at,
    verifyError: row.verify_error,
    imported: row.imported === 1,
    status: row.verified_at !== null ? 'verified' : row.verify_error !== null ? 'failed' : 'unverified',
    offsite: toOffsite(row),
  };
}

function toOffsite(row: Row): OffsiteState | null {
  if (row.offsite_confirmed_at === null && row.offsite_attempts === 0) return null;
  return {
    objectName: row.offsite_object,
    generation: row.offsite_generation,
    confirmedAt: row.offsite_confirmed_at,
    attempts: row.offsite_attempts,
    error: row.offsite_error,
    nextAttemptAt: row.offsite_next_attempt_at,
  };
}
