import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { STORE_FILE, Store } from '../src/store/store.js';
import { VERSION } from '../src/version.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/** The store's file through a connection of the test's own: the store hands its handle to nobody. */
function peek<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('Store', () => {
  it('creates the store in WAL mode and applies every migration', () => {
    const dir = tempDir();
    const store = Store.open(dir);
    expect(peek(store.file, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
    expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)?.version);
    expect(
      peek(store.file, (db) =>
        db.prepare("SELECT value FROM meta WHERE key = 'runwarden_version'").pluck().get(),
      ),
    ).toBe(VERSION);
    store.close();
    expect(store.isOpen).toBe(false);
  });

  it('applies only the migrations a store lacks', () => {
    const dir = tempDir();
    const first = MIGRATIONS.slice(0, 1);
    Store.open(dir, first).close();
    const extra = {
      version: (MIGRATIONS.at(-1)?.version ?? 0) + 1,
      name: 'probe',
      sql: 'CREATE TABLE probe (x INTEGER) STRICT;',
    };
    const store = Store.open(dir, [...MIGRATIONS, extra]);
    expect(store.schemaVersion).toBe(extra.version);
    expect(
      peek(store.file, (db) =>
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'probe'").pluck().get(),
      ),
    ).toBe('probe');
    store.close();
  });

  it('refuses a store written by a newer runwarden and leaves it untouched', () => {
    const dir = tempDir();
    Store.open(dir).close();
    const raw = new Database(path.join(dir, STORE_FILE));
    raw.pragma('user_version = 999');
    raw.prepare("UPDATE meta SET value = '99.0.0' WHERE key = 'runwarden_version'").run();
    raw.close();
    expect(() => Store.open(dir)).toThrow(
      /schema version 999, written by runwarden 99\.0\.0; this runwarden .* knows up to/,
    );
    const after = new Database(path.join(dir, STORE_FILE), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(999);
    expect(after.prepare("SELECT value FROM meta WHERE key = 'runwarden_version'").pluck().get()).toBe(
      '99.0.0',
    );
    after.close();
  });

  it('rolls back a failing migration as a whole', () => {
    const dir = tempDir();
    const broken = {
      version: (MIGRATIONS.at(-1)?.version ?? 0) + 1,
      name: 'broken',
      sql: 'CREATE TABLE half (x); SELECT nonsense FROM nowhere;',
    };
    expect(() => Store.open(dir, [...MIGRATIONS, broken])).toThrow(/apply store migration \d+ \(broken\)/);
    const store = Store.open(dir);
    expect(
      peek(store.file, (db) => db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()),
    ).toBeUndefined();
    store.close();
  });

  it('lets several processes open a fresh store at the same moment', async () => {
    const storeModule = new URL('../dist/store/store.js', import.meta.url).href;
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      const opens = Array.from({ length: 4 }, () => {
        const child = spawn(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const { Store } = await import(${JSON.stringify(storeModule)}); Store.open(${JSON.stringify(dir)}).close();`,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
        });
        return new Promise<{ code: number | null; stderr: string }>((resolve) =>
          child.once('exit', (code) => resolve({ code, stderr })),
        );
      });
      for (const result of await Promise.all(opens)) expect(result, result.stderr).toMatchObject({ code: 0 });
      const store = Store.open(dir);
      expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)?.version);
      store.close();
    }
  });

  it('numbers migrations consecutively from 1', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });
});
