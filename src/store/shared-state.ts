import { FatalError, wrapError } from '../core/errors.js';
import { connectInMemory, schemaVersion } from './connect.js';
import type { Db } from './db.js';

/**
 * The decision state: what a watcher decides from, so a standby taking over (or a watcher restarted
 * with an empty disk) must have it before it acts. Parents before children (foreign keys).
 * - watch_services: stable revision, freeze, cooldown clock, last snapshot (its action lease columns
 *   are a process's, and are cleared on restore);
 * - watch_revisions, watch_known_good: revisions marked good or bad, and the known-good list;
 * - watches, watch_evaluations, watch_predeploys, watch_history: open watches and their audit;
 * - watch_owed_rollbacks: rollbacks decided and never confirmed, finished by the next leader;
 * - alert_deliveries, alert_cooldowns: alert dedupe (fingerprints) and the alerts' cooldown.
 */
export const SHARED_TABLES = [
  'watch_services',
  'watch_revisions',
  'watch_known_good',
  'watches',
  'watch_evaluations',
  'watch_predeploys',
  'watch_history',
  'watch_owed_rollbacks',
  'alert_deliveries',
  'alert_cooldowns',
] as const;

/**
 * Shared, but left out of the copy: every rule evaluation of every tick, kept 90 days for
 * `history --watch`, is nearly all of a busy store's bytes (see bench/state-copy.mjs) and decides
 * nothing (a watch's trips and announcements are on its row). A new leader's evaluations start
 * with its own ticks.
 */
export const NOT_COPIED = ['watch_evaluations'] as const;

/**
 * This host's own: the catalog of the archives on its disk (`backups`, `offsite_copies`), the
 * restores it made, and `meta` (which runwarden wrote this file, and which shared copy it holds).
 * Another host's catalog names files this host does not have, so these are never restored.
 */
export const LOCAL_TABLES = ['meta', 'backups', 'restores', 'offsite_copies'] as const;

/** The meta key recording the bucket copy this store last wrote or restored. */
const COPY_KEY = 'state_copy';

/** The bucket copy this store matches (it wrote that generation, or was restored from it). */
export interface CopyMark {
  generation: number;
  /** Epoch ms the copy was written (by its writer's clock). */
  writtenAt: number;
  /** Who wrote it (a daemon's owner string). */
  holder: string;
}

/** What a restore replaced. */
export interface RestoredState {
  /** Rows restored per shared table. */
  rows: Record<string, number>;
}

/**
 * A change token for "did anything change since": this connection's own writes (`total_changes`)
 * and other connections' commits (`data_version`: a CLI's `freeze` writes through its own). Cheap:
 * no table is read.
 */
export function changeToken(db: Db): string {
  const own = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const others = db.pragma('data_version', { simple: true }) as number;
  return `${own}:${others}`;
}

/** The whole store as one consistent SQLite image (committed WAL pages included), read under one read transaction. */
export function snapshotBytes(db: Db): Buffer {
  try {
    const image = db.serialize();
    // Header bytes 18 and 19 (file format write/read version) say WAL (2) for this store: an image
    // saying so cannot be opened in memory or read-only without a -wal beside it. The image is whole
    // (committed WAL pages included), so it is marked a plain rollback-journal database (1).
    if (image.length >= 100) image.fill(1, 18, 20);
    return image;
  } catch (error) {
    throw wrapError('snapshot the state store', error, 'RW_STORE_SNAPSHOT');
  }
}

/**
 * The decision state as one SQLite image: the whole schema (so an older copy migrates like any
 * store), with the rows of the shared tables but NOT_COPIED, and of `meta`; the host-local tables
 * empty. Read in one read transaction of `file` (the store's own file): a consistent view.
 */
export function sharedImage(db: Db, file: string): Buffer {
  const image = connectInMemory();
  image.pragma('foreign_keys = OFF');
  try {
    image.prepare('ATTACH DATABASE ? AS src').run(file);
    image.exec('BEGIN');
    const objects = image
      .prepare(
        `SELECT type, name, sql FROM src.sqlite_master
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
         ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid`,
      )
      .all() as Array<{ type: string; name: string; sql: string }>;
    for (const object of objects) image.exec(object.sql);
    const skipped = new Set<string>([...NOT_COPIED, ...LOCAL_TABLES.filter((table) => table !== 'meta')]);
    for (const object of objects)
      if (object.type === 'table' && !skipped.has(object.name))
        image.exec(`INSERT INTO main."${object.name}" SELECT * FROM src."${object.name}"`);
    // Which copy this store matches is this store's own (and would make every image differ).
    image.prepare('DELETE FROM main.meta WHERE key = ?').run(COPY_KEY);
    // When this host last polled is its own bookkeeping, written on every poll: left out, a poll
    // that saw nothing new leaves the image as it was, and the copier sends nothing.
    image.exec(
      `UPDATE main.watch_services SET polled_at = NULL,
         updated_at = max(COALESCE(stable_since, 0), COALESCE(frozen_at, 0), COALESCE(last_auto_rollback_at, 0))`,
    );
    if (image.prepare("SELECT 1 FROM src.sqlite_master WHERE name = 'sqlite_sequence'").get())
      image.exec(
        'DELETE FROM main.sqlite_sequence; INSERT INTO main.sqlite_sequence SELECT * FROM src.sqlite_sequence',
      );
    image.exec('COMMIT');
    image.exec('DETACH DATABASE src');
    image.pragma(`user_version = ${schemaVersion(db)}`);
    // Rebuilt compactly, the same rows always give the same bytes (a row updated or deleted above
    // leaves free space behind), so the copier can tell an unchanged state by its digest.
    image.exec('VACUUM');
    return image.serialize();
  } catch (error) {
    throw wrapError('copy the decision state', error, 'RW_STORE_SNAPSHOT');
  } finally {
    image.close();
  }
}

/** Whether the store holds no decision state at all (a fresh disk). */
export function hasSharedState(db: Db): boolean {
  return SHARED_TABLES.some((table) => db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined);
}

export function readCopyMark(db: Db): CopyMark | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(COPY_KEY) as
    | { value: string }
    | undefined;
  if (!row) return undefined;
  try {
    const mark = JSON.parse(row.value) as CopyMark;
    return Number.isInteger(mark.generation) ? mark : undefined;
  } catch {
    return undefined;
  }
}

export function writeCopyMark(db: Db, mark: CopyMark): void {
  db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(COPY_KEY, JSON.stringify(mark));
}

/**
 * Replaces every shared table with the rows of the store file `copy` (another host's, migrated to
 * this schema), in one transaction with `mark`: all of it lands, or nothing does. The NOT_COPIED
 * tables are emptied (their rows belonged to this store's replaced watches). Host-local tables
 * are not touched. The copy must be at this store's schema version (RW_STATE_COPY_SCHEMA otherwise).
 */
export function replaceSharedState(db: Db, copy: string, mark: CopyMark): RestoredState {
  const ours = schemaVersion(db);
  db.prepare('ATTACH DATABASE ? AS copy').run(copy);
  try {
    const theirs = db.pragma('copy.user_version', { simple: true }) as number;
    if (theirs !== ours)
      throw new FatalError(
        'RW_STATE_COPY_SCHEMA',
        `the state copy has store schema version ${theirs}, this store ${ours}; migrate it first`,
      );
    const rows: Record<string, number> = {};
    db.transaction(() => {
      for (const table of [...SHARED_TABLES].reverse()) db.prepare(`DELETE FROM main.${table}`).run();
      for (const table of SHARED_TABLES) {
        if ((NOT_COPIED as readonly string[]).includes(table)) continue;
        const columns = (db.pragma(`main.table_info(${table})`) as Array<{ name: string }>)
          .map((column) => `"${column.name}"`)
          .join(', ');
        rows[table] = db
          .prepare(`INSERT INTO main.${table} (${columns}) SELECT ${columns} FROM copy.${table}`)
          .run().changes;
      }
      // Another process's action lease means nothing here: that process is gone or elsewhere.
      db.prepare('UPDATE main.watch_services SET action_owner = NULL, action_until = NULL').run();
      // AUTOINCREMENT ids are never reused: keep the higher of both counters.
      db.prepare(
        `UPDATE main.sqlite_sequence SET seq = max(seq, COALESCE(
           (SELECT c.seq FROM copy.sqlite_sequence c WHERE c.name = main.sqlite_sequence.name), 0))`,
      ).run();
      writeCopyMark(db, mark);
    }).immediate();
    return { rows };
  } finally {
    db.prepare('DETACH DATABASE copy').run();
  }
}
