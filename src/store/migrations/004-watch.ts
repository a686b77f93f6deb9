import type { Migration } from './migration.js';

/**
 * The deploy watch's state. Times are ms since the epoch. At most one open watch per
 * service (partial unique index), so two processes can never both start one; transitions out of
 * `watching` are compare-and-set on the status.
 */
export const watchMigration: Migration = {
  version: 4,
  name: 'watch',
  sql: `
    CREATE TABLE watch_services (
      service               TEXT PRIMARY KEY,
      stable_revision       TEXT,
      stable_since          INTEGER,
      stable_reason         TEXT,
      frozen                INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
      frozen_at             INTEGER,
      frozen_reason         TEXT,
      snapshot              TEXT,
      polled_at             INTEGER,
      last_auto_rollback_at INTEGER,
      action_owner          TEXT,
      action_until          INTEGER,
      updated_at            INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE watch_revisions (
      service  TEXT NOT NULL,
      revision TEXT NOT NULL,
      verdict  TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
      reason   TEXT NOT NULL,
      at       INTEGER NOT NULL,
      PRIMARY KEY (service, revision)
    ) STRICT;

    CREATE TABLE watches (
      id            INTEGER PRIMARY KEY,
      service       TEXT NOT NULL,
      candidate     TEXT NOT NULL,
      stable        TEXT,
      started_at    INTEGER NOT NULL,
      deadline      INTEGER NOT NULL,
      status        TEXT NOT NULL,
      ended_at      INTEGER,
      end_reason    TEXT,
      tripped       TEXT NOT NULL DEFAULT '[]',
      announced     TEXT NOT NULL DEFAULT '[]',
      dry_run       INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
      restore_point TEXT
    ) STRICT;
    CREATE UNIQUE INDEX watches_one_open ON watches (service) WHERE status = 'watching';
    CREATE INDEX watches_by_service ON watches (service, id);

    CREATE TABLE watch_evaluations (
      id           INTEGER PRIMARY KEY,
      watch_id     INTEGER NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
      service      TEXT NOT NULL,
      at           INTEGER NOT NULL,
      rule         TEXT NOT NULL,
      signal       TEXT NOT NULL,
      rule_action  TEXT NOT NULL,
      window_start INTEGER,
      window_end   INTEGER,
      query        TEXT NOT NULL,
      raw          TEXT NOT NULL,
      value        REAL,
      threshold    REAL NOT NULL,
      verdict      TEXT NOT NULL,
      action       TEXT NOT NULL,
      detail       TEXT NOT NULL
    ) STRICT;
    CREATE INDEX watch_evaluations_by_watch ON watch_evaluations (watch_id, id);

    CREATE TABLE watch_predeploys (
      id          INTEGER PRIMARY KEY,
      service     TEXT NOT NULL,
      at          INTEGER NOT NULL,
      stable      TEXT,
      backup_file TEXT,
      backup_id   INTEGER,
      fingerprint TEXT,
      error       TEXT,
      watch_id    INTEGER
    ) STRICT;
    CREATE INDEX watch_predeploys_by_service ON watch_predeploys (service, id);

    CREATE TABLE watch_history (
      id        INTEGER PRIMARY KEY,
      service   TEXT NOT NULL,
      at        INTEGER NOT NULL,
      kind      TEXT NOT NULL,
      watch_id  INTEGER,
      revision  TEXT,
      message   TEXT NOT NULL,
      detail    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX watch_history_by_service ON watch_history (service, id);
  `,
};
