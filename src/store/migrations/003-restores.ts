import type { Migration } from './migration.js';

/**
 * One row per restore attempt: what was restored from which archive, where its safety copy of the
 * replaced database is, and how it ended. A row stays 'running' when the process was killed.
 */
export const restoresMigration: Migration = {
  version: 3,
  name: 'restores',
  sql: `
    CREATE TABLE restores (
      id                 INTEGER PRIMARY KEY,
      started_at         TEXT NOT NULL,
      finished_at        TEXT,
      archive            TEXT NOT NULL,
      archive_sha256     TEXT,
      kind               TEXT NOT NULL CHECK (kind IN ('db', 'tenant', 'media')),
      name               TEXT NOT NULL,
      target             TEXT NOT NULL,
      safety_copy        TEXT,
      safety_copy_method TEXT CHECK (safety_copy_method IN ('snapshot', 'raw-copy')),
      pre_restore_backup TEXT,
      result             TEXT NOT NULL CHECK (result IN ('running', 'completed', 'failed')),
      error              TEXT
    ) STRICT;
    CREATE INDEX restores_started ON restores (started_at);
  `,
};
