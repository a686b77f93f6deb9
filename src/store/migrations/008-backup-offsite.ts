import type { Migration } from './migration.js';

/**
 * Each archive's off-site copy. `offsite_confirmed_at` is set once the object's size and CRC32C
 * read back from the bucket matched the local file; `offsite_object` and `offsite_generation` name
 * exactly that copy (a later generation under the same name is someone else's and is not trusted).
 * Until then, `offsite_attempts`, `offsite_error` and `offsite_next_attempt_at` say how uploading
 * it went and when it is tried again: the backlog survives a restart because it lives here.
 */
export const backupOffsiteMigration: Migration = {
  version: 8,
  name: 'backup-offsite',
  sql: `
    ALTER TABLE backups ADD COLUMN offsite_object TEXT;
    ALTER TABLE backups ADD COLUMN offsite_generation INTEGER;
    ALTER TABLE backups ADD COLUMN offsite_confirmed_at TEXT;
    ALTER TABLE backups ADD COLUMN offsite_attempts INTEGER NOT NULL DEFAULT 0
      CHECK (offsite_attempts >= 0);
    ALTER TABLE backups ADD COLUMN offsite_error TEXT;
    ALTER TABLE backups ADD COLUMN offsite_next_attempt_at TEXT;
    CREATE INDEX backups_offsite_pending ON backups (offsite_confirmed_at, started_at);
  `,
};
