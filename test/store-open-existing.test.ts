import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { STORE_FILE, Store } from '../src/store/store.js';
import { VERSION } from '../src/version.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/** Read with a read-write connection: a read-only one would leave -wal and -shm behind. */
function writtenBy(dir: string): string {
  const db = new Database(path.join(dir, STORE_FILE));
  try {
    return db.prepare("SELECT value FROM meta WHERE key = 'runwarden_version'").pluck().get() as string;
  } finally {
    db.close();
  }
}

function markWrittenBy(dir: string, version: string): void {
  const db = new Database(path.join(dir, STORE_FILE));
  db.prepare("UPDATE meta SET value = ? WHERE key = 'runwarden_version'").run(version);
  db.close();
}

describe('Store.openExisting (for commands that only read)', () => {
  it('creates nothing when the state folder or its store is missing', () => {
    const dir = tempDir();
    expect(Store.openExisting(path.join(dir, 'state'))).toBeUndefined();
    expect(Store.openExisting(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes nothing to a store of the current schema, and leaves no -wal or -shm behind', () => {
    const dir = tempDir();
    Store.open(dir).close();
    // Store.open records the runwarden that opened it last; a read must not.
    markWrittenBy(dir, '0.0.1-earlier');
    const store = Store.openExisting(dir);
    expect(store?.backups.list()).toEqual([]);
    store?.close();
    expect(readdirSync(dir)).toEqual([STORE_FILE]);
    expect(writtenBy(dir)).toBe('0.0.1-earlier');
  });

  it('migrates an older store, as any command does', () => {
    const dir = tempDir();
    Store.open(dir, MIGRATIONS.slice(0, 1)).close();
    const store = Store.openExisting(dir);
    expect(store?.schemaVersion).toBe(MIGRATIONS.at(-1)?.version);
    store?.close();
    expect(writtenBy(dir)).toBe(VERSION);
  });

  it('refuses a store written by a newer runwarden, leaving it untouched', () => {
    const dir = tempDir();
    Store.open(dir).close();
    const raw = new Database(path.join(dir, STORE_FILE));
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => Store.openExisting(dir)).toThrow(/schema version 999/);
    const after = new Database(path.join(dir, STORE_FILE), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(999);
    after.close();
  });
});

describe('Store.empty', () => {
  it('is a migrated store in memory that touches no file', () => {
    const store = Store.empty();
    expect(store.schemaVersion).toBe(MIGRATIONS.at(-1)?.version);
    expect(store.backups.list()).toEqual([]);
    expect(existsSync(':memory:')).toBe(false);
    store.close();
  });
});
