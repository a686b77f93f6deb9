import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FatalError, wrapError } from '../errors.js';
import { VERSION } from '../version.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/migration.js';

export type Db = Database.Database;

export const STORE_FILE = 'runwarden.db';

/**
 * runwarden's own state: one SQLite file in WAL mode under the state folder. Repositories take the
 * `db` handle; the store only opens, migrates and closes it.
 */
export class Store {
  readonly db: Db;
  readonly file: string;

  private constructor(db: Db, file: string) {
    this.db = db;
    this.file = file;
  }

  /**
   * Opens (creating if needed) and migrates the store. Refuses a store written by a newer
   * runwarden: its schema would be silently misread, and downgrading could lose data.
   */
  static open(stateDir: string, migrations: readonly Migration[] = MIGRATIONS): Store {
    const file = path.join(stateDir, STORE_FILE);
    let db: Db;
    try {
      mkdirSync(stateDir, { recursive: true });
      db = new Database(file, { timeout: 5_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    } catch (error) {
      throw wrapError(`open state store ${file}`, error, 'RW_STORE_OPEN');
    }
    try {
      migrate(db, migrations, file);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db, file);
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Brings the schema up to date in one IMMEDIATE transaction: the version is read under the write
 * lock, so a CLI and a daemon opening a fresh store at the same moment cannot both apply migration 1.
 * Any failure rolls the whole upgrade back.
 */
function migrate(db: Db, migrations: readonly Migration[], file: string): void {
  const latest = migrations.at(-1)?.version ?? 0;
  const upgrade = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
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
