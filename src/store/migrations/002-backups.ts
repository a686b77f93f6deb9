import type { Migration } from './migration.js';

/**
 * The backup catalog: one row per archive that was written and verified (or imported after
 * verification). `verified_at` is the last successful verification; a failed re-verification clears
 * it and records `verify_error`, so retention and restore stop trusting that archive.
 */
export const backupsMigration: Migration = {
  version: 2,
  name: 'backups',
  sql: `
    CREATE TABLE backups (
      id           INTEGER PRIMARY KEY,
      file         TEXT NOT NULL UNIQUE,
      size         INTEGER NOT NULL CHECK (size >= 0),
      sha256       TEXT NOT NULL,
      reason       TEXT NOT NULL,
      triggered_by TEXT NOT NULL,
      started_at   TEXT NOT NULL,
      finished_at  TEXT NOT NULL,
      entries      INTEGER NOT NULL,
      verified_at  TEXT,
      verify_error TEXT,
      imported     INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1))
    ) STRICT;
    CREATE INDEX backups_started ON backups (started_at);
  `,
};
