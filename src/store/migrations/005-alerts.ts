import type { Migration } from './migration.js';

/**
 * Alerts that asked for a rollback: one row per distinct alert (dedupe key), kept for the dedupe
 * window, so a repeated delivery acts once even across a restart. `outcome` is 'pending' while the
 * rollback it asked for runs; a failed attempt removes its row so the sender's retry can act.
 * `alert_cooldowns` holds, per service, when an alert last caused a rollback (or a dry run of one).
 */
export const alertsMigration: Migration = {
  version: 5,
  name: 'alerts',
  sql: `
    CREATE TABLE alert_deliveries (
      id           INTEGER PRIMARY KEY,
      dedupe_key   TEXT NOT NULL UNIQUE,
      source       TEXT NOT NULL CHECK (source IN ('alertmanager', 'cloud_monitoring')),
      fingerprint  TEXT NOT NULL,
      alert_name   TEXT NOT NULL,
      service      TEXT NOT NULL,
      labels       TEXT NOT NULL,
      received_at  TEXT NOT NULL,
      outcome      TEXT NOT NULL,
      to_revision  TEXT,
      detail       TEXT
    ) STRICT;
    CREATE INDEX alert_deliveries_received ON alert_deliveries (received_at);
    CREATE TABLE alert_cooldowns (
      service  TEXT PRIMARY KEY,
      acted_at TEXT NOT NULL,
      dry_run  INTEGER NOT NULL CHECK (dry_run IN (0, 1))
    ) STRICT;
  `,
};
