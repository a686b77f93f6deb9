import type { Migration } from './migration.js';

/**
 * Rollbacks decided and sent to Cloud Run but not yet confirmed (a SIGTERM during a
 * rollback must leave it recorded for the next start). At most one per service: written before
 * UpdateService, deleted when trafficStatuses confirm the change or a person's change supersedes
 * it. `id` is AUTOINCREMENT so a row replaced by a newer decision never gets the old id back (rows
 * are cleared by id). `from_revisions` and `announced` are JSON arrays; times are ms since the epoch.
 */
export const owedRollbacksMigration: Migration = {
  version: 6,
  name: 'owed-rollbacks',
  sql: `
    CREATE TABLE watch_owed_rollbacks (
      id             INTEGER PRIMARY KEY AUTOINCREMENT,
      service        TEXT NOT NULL UNIQUE,
      trigger        TEXT NOT NULL CHECK (trigger IN ('watch', 'alert')),
      to_revision    TEXT NOT NULL,
      from_revisions TEXT NOT NULL,
      watch_id       INTEGER,
      reason         TEXT NOT NULL,
      rule           TEXT,
      decided_at     INTEGER NOT NULL,
      recorded_at    INTEGER NOT NULL,
      announced      TEXT NOT NULL DEFAULT '[]'
    ) STRICT;
  `,
};
