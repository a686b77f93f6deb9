import type { Migration } from './migration.js';

/**
 * The confirmed off-site copies, kept apart from the archives' rows: local retention deletes an
 * archive's row once its copy is confirmed, yet remote retention must still know that copy (its
 * object name and generation) to count it and, in time, delete it. A trigger records each copy as
 * the catalog confirms it, so every writer of `backups` feeds this table; remote retention forgets
 * a copy once its object is deleted. Copies confirmed before this migration are taken over.
 */
export const offsiteCopiesMigration: Migration = {
  version: 9,
  name: 'offsite-copies',
  sql: `
    CREATE TABLE offsite_copies (
      object TEXT NOT NULL,
      generation INTEGER NOT NULL,
      confirmed_at TEXT NOT NULL,
      PRIMARY KEY (object, generation)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO offsite_copies (object, generation, confirmed_at)
      SELECT offsite_object, offsite_generation, offsite_confirmed_at FROM backups
      WHERE offsite_confirmed_at IS NOT NULL AND offsite_object IS NOT NULL
        AND offsite_generation IS NOT NULL;
    CREATE TRIGGER backups_offsite_confirmed_update
      AFTER UPDATE OF offsite_confirmed_at, offsite_object, offsite_generation ON backups
      WHEN NEW.offsite_confirmed_at IS NOT NULL AND NEW.offsite_object IS NOT NULL
        AND NEW.offsite_generation IS NOT NULL
    BEGIN
      INSERT OR IGNORE INTO offsite_copies (object, generation, confirmed_at)
        VALUES (NEW.offsite_object, NEW.offsite_generation, NEW.offsite_confirmed_at);
    END;
    CREATE TRIGGER backups_offsite_confirmed_insert
      AFTER INSERT ON backups
      WHEN NEW.offsite_confirmed_at IS NOT NULL AND NEW.offsite_object IS NOT NULL
        AND NEW.offsite_generation IS NOT NULL
    BEGIN
      INSERT OR IGNORE INTO offsite_copies (object, generation, confirmed_at)
        VALUES (NEW.offsite_object, NEW.offsite_generation, NEW.offsite_confirmed_at);
    END;
  `,
};
