import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FatalError, wrapError } from '../core/errors.js';
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
    const db = connect(file, () => mkdirSync(stateDir, { recursive: true }), {});
    try {
      migrate(db, migrations, file);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db, file);
  }

  /**
   * For commands that only read: the store if `stateDir` holds one, else undefined, and nothing is
   * created either way (no folder, no file). A store of the current schema is not written to; an
   * older one is migrated as any command would; a newer one is refused as by `open`.
   */
  static openExisting(stateDir: string, migrations: readonly Migration[] = MIGRATIONS): Store | undefined {
    const file = path.join(stateDir, STORE_FILE);
    if (!existsSync(file)) return undefined;
    const db = connect(file, () => {}, { fileMustExist: true });
    try {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current !== (migrations.at(-1)?.version ?? 0)) migrate(db, migrations, file);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db, file);
  }

  /** An empty store in memory, for a command that reads when no state exists yet. */
  static empty(migrations: readonly Migration[] = MIGRATIONS): Store {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, migrations, ':memory:');
    return new Store(db, ':memory:');
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function connect(file: string, prepare: () => void, options: Database.Options): Db {
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
