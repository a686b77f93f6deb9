import type { Migration } from './migration.js';

/**
 * The guard on the serving revision. `watch_known_good` keeps the known-good history as a list
 * (oldest first by id): every baseline, promotion and rollback target, so a rollback after a
 * promotion can go to the revision before. It starts from each service's stable slot, as a
 * baseline (no rollback window: the revision before it was never recorded). The guard's trigger is
 * allowed for owed rollbacks, and rule evaluations may belong to no watch (the guard's), marked
 * with their phase and the revision evaluated. SQLite cannot change a CHECK or a NOT NULL in place,
 * so those two tables are rebuilt, their rows copied.
 */
export const knownGoodMigration: Migration = {
  version: 10,
  name: 'known-good',
  sql: `
    CREATE TABLE watch_known_good (
      id       INTEGER PRIMARY KEY AUTOINCREMENT,
      service  TEXT NOT NULL,
      revision TEXT NOT NULL,
      how      TEXT NOT NULL CHECK (how IN ('baseline', 'promoted', 'rolled_back_to')),
      at       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX watch_known_good_by_service ON watch_known_good (service, id);
    INSERT INTO watch_known_good (service, revision, how, at)
      SELECT service, stable_revision, 'baseline', COALESCE(stable_since, updated_at) FROM watch_services
      WHERE stable_revision IS NOT NULL ORDER BY service;

    CREATE TABLE watch_owed_rollbacks_new (
      id             INTEGER PRIMARY KEY AUTOINCREMENT,
      service        TEXT NOT NULL UNIQUE,
      trigger        TEXT NOT NULL CHECK (trigger IN ('watch', 'alert', 'guard')),
      to_revision    TEXT NOT NULL,
      from_revisions TEXT NOT NULL,
      watch_id       INTEGER,
      reason         TEXT NOT NULL,
      rule           TEXT,
      decided_at     INTEGER NOT NULL,
      recorded_at    INTEGER NOT NULL,
      announced      TEXT NOT NULL DEFAULT '[]'
    ) STRICT;
    INSERT INTO watch_owed_rollbacks_new SELECT * FROM watch_owed_rollbacks;
    DROP TABLE watch_owed_rollbacks;
    ALTER TABLE watch_owed_rollbacks_new RENAME TO watch_owed_rollbacks;

    CREATE TABLE watch_evaluations_new (
      id           INTEGER PRIMARY KEY,
      watch_id     INTEGER REFERENCES watches (id) ON DELETE CASCADE,
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
      detail       TEXT NOT NULL,
      phase        TEXT NOT NULL DEFAULT 'watch' CHECK (phase IN ('watch', 'guard')),
      revision     TEXT
    ) STRICT;
    INSERT INTO watch_evaluations_new
      (id, watch_id, service, at, rule, signal, rule_action, window_start, window_end, query, raw, value,
       threshold, verdict, action, detail, phase, revision)
      SELECT e.id, e.watch_id, e.service, e.at, e.rule, e.signal, e.rule_action, e.window_start, e.window_end,
             e.query, e.raw, e.value, e.threshold, e.verdict, e.action, e.detail, 'watch', w.candidate
      FROM watch_evaluations e LEFT JOIN watches w ON w.id = e.watch_id;
    DROP TABLE watch_evaluations;
    ALTER TABLE watch_evaluations_new RENAME TO watch_evaluations;
    CREATE INDEX watch_evaluations_by_watch ON watch_evaluations (watch_id, id);
    CREATE INDEX watch_evaluations_guard ON watch_evaluations (service, at) WHERE phase = 'guard';
  `,
};
