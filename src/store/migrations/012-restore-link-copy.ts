import type { Migration } from './migration.js';

/**
 * A restore of several targets keeps the replaced database under a second name (link(2)) instead
 * of copying it: safety_copy_method gains 'link'. SQLite cannot change a CHECK in place, so the
 * table is rebuilt, its rows copied.
 */
export const restoreLinkCopyMigration: Migration = {
  version: 12,
  name: 'restore-link-copy',
  sql: `
    CREATE TABLE restores_new (
      id                 INTEGER PRIMARY KEY,
      started_at         TEXT NOT NULL,
      finished_at        TEXT,
      archive            TEXT NOT NULL,
      archive_sha256     TEXT,
      kind               TEXT NOT NULL CHECK (kind IN ('db', 'tenant', 'media')),
      name               TEXT NOT NULL,
      target             TEXT NOT NULL,
      safety_copy        TEXT,
      safety_copy_method TEXT CHECK (safety_copy_method IN ('snapshot', 'raw-copy', 'link')),
      pre_restore_backup TEXT,
      result             TEXT NOT NULL CHECK (result IN ('running', 'completed', 'failed')),
      error              TEXT
    ) STRICT;
    INSERT INTO restores_new SELECT * FROM restores;
    DROP TABLE restores;
    ALTER TABLE restores_new RENAME TO restores;
    CREATE INDEX restores_started ON restores (started_at);
  `,
};
