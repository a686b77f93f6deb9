import Database from 'better-sqlite3';
import { FatalError, wrapError } from '../core/errors.js';
import { VERSION } from '../version.js';
import type { Db } from './db.js';
import type { Migration } from './migrations/migration.js';

/** Opens `file` in WAL mode with foreign keys on; `prepare` runs first (creating the folder). */
export function connect(file: string, prepare: () => void, options: Database.Options): Db {
  try {
    prepare();
    const db = new Database(file, { timeout: 5_000, ...options });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    return db;
  } catch (error) {
    throw wrapError(`open state store ${file}`, error, 'RW_STORE_OPEN');
  }
}

/** An empty store in memory: no file, nothing to share. */
export function connectInMemory(): Db {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  return db;
}

/** The schema version `db` is at. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the schema up to date in one IMMEDIATE transaction: the version is read under the write
 * lock, so a CLI and a daemon opening a fresh store at the same moment cannot both apply migration 1.
 * Any failure rolls the whole upgrade back.
 */
export function migrate(db: Db, migrations: readonly Migration[], file: string): void {
  const latest = migrations.at(-1)?.version ?? 0;
  const upgrade = db.transaction(() => {
    const current = schemaVersion(db);
    if (current > latest) {
      const writtenBy = readMeta(db, 'runwarden_version') ?? 'an unknown version';
      throw new FatalError(
        'RW_STORE_TOO_NEW',
        `state store ${file} has schema version ${current}, written by runwarden ${writtenBy}; this runwarden ${VERSION} knows up to ${latest}. ` +
          'Upgrade runwarden, or point state_dir at another folder; the store was left untouched.',
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      try {
        db.exec(migration.sql);
        db.pragma(`user_version = ${migration.version}`);
      } catch (error) {
        throw wrapError(
          `apply store migration ${migration.version} (${migration.name})`,
          error,
          'RW_STORE_MIGRATE',
        );
      }
    }
    db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run('runwarden_version', VERSION);
  });
  upgrade.immediate();
}

function readMeta(db: Db, key: string): string | undefined {
  try {
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  } catch {
    return undefined;
  }
}
