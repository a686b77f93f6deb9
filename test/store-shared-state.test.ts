import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LOCAL_TABLES, SHARED_TABLES } from '../src/store/shared-state.js';
import { Store } from '../src/store/store.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/** A store with some decision state and one archive in its local catalog. */
function busyStore(dir: string, service = 'shop'): Store {
  const store = Store.open(dir);
  store.services.setStable(service, `${service}-1`, 'promoted', 1_000);
  store.knownGood.append(service, `${service}-1`, 'promoted', 1_000);
  store.revisions.mark(service, `${service}-2`, 'bad', 'http_5xx tripped', 2_000);
  store.services.setFrozen(service, true, 'incident 42', 3_000);
  store.services.acquireAction(service, 'daemon:1', 99_000, 3_000);
  store.backups.record({
    file: `${service}.zip`,
    size: 1,
    sha256: 'a'.repeat(64),
    reason: 'scheduled',
    trigger: 'cron',
    startedAt: new Date(0),
    finishedAt: new Date(1),
    entries: 1,
    verifiedAt: new Date(1),
  });
  return store;
}

function imageFile(store: Store, dir: string): string {
  const file = path.join(dir, 'copy.db');
  writeFileSync(file, store.snapshot());
  return file;
}

describe('Store: the shared decision state', () => {
  it("classifies every table of the schema as shared decision state or this host's own", () => {
    const store = Store.open(tempDir());
    const db = new Database(store.file, { readonly: true });
    const tables = (
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .pluck()
        .all() as string[]
    ).sort();
    db.close();
    store.close();
    // A new table must be put on one side: a migration adding one fails here until it is.
    expect(tables).toEqual([...SHARED_TABLES, ...LOCAL_TABLES].sort());
  });

  it('restores the decision state of a snapshot, keeps the local catalog, clears action leases and records the copy', () => {
    const source = busyStore(tempDir(), 'shop');
    const file = imageFile(source, tempDir());
    const target = busyStore(tempDir(), 'other');
    const restored = target.restoreSharedState(file, { generation: 7, writtenAt: 5_000, holder: 'host-a:1' });
    expect(restored.rows).toMatchObject({ watch_services: 1, watch_known_good: 1, watch_revisions: 1 });
    expect(target.memory('shop')).toMatchObject({ stable: 'shop-1', frozen: true });
    expect(target.revisions.bad('shop').has('shop-2')).toBe(true);
    expect(target.services.get('other')).toBeUndefined();
    expect(target.services.get('shop')?.actionOwner).toBeNull();
    // The archives on this disk are this host's: the other's catalog never replaces them.
    expect(target.backups.list().map((row) => row.file)).toEqual(['other.zip']);
    expect(target.copyMark).toEqual({ generation: 7, writtenAt: 5_000, holder: 'host-a:1' });
    source.close();
    target.close();
  });

  it('refuses a copy of another schema version whole, leaving the store untouched', () => {
    const dir = tempDir();
    const source = busyStore(tempDir(), 'shop');
    const file = imageFile(source, dir);
    source.close();
    const db = new Database(file);
    db.pragma('user_version = 999');
    db.close();
    const target = busyStore(tempDir(), 'other');
    expect(() => target.restoreSharedState(file, { generation: 1, writtenAt: 0, holder: 'x' })).toThrow(
      /schema version 999, this store \d+/,
    );
    expect(target.memory('other')).toMatchObject({ stable: 'other-1', frozen: true });
    expect(target.copyMark).toBeUndefined();
    target.close();
  });

  it("copies the decision state without rule evaluations or this host's catalog, as an image any SQLite opens", () => {
    const source = busyStore(tempDir(), 'shop');
    const watch = source.watches.create({
      service: 'shop',
      candidate: 'shop-3',
      stable: 'shop-1',
      startedAt: 4_000,
      deadline: 9_000,
      dryRun: false,
    });
    source.evaluations.add(
      { watchId: watch.id, phase: 'watch', revision: 'shop-3' },
      'shop',
      5_000,
      [],
      () => 'none',
    );
    const image = new Database(source.sharedSnapshot());
    const count = (table: string) => image.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
    expect(count('watches')).toBe(1);
    expect(count('watch_services')).toBe(1);
    expect(count('watch_evaluations')).toBe(0);
    expect(count('backups')).toBe(0);
    expect(image.pragma('user_version', { simple: true })).toBe(source.schemaVersion);
    image.close();
    const file = path.join(tempDir(), 'shared.db');
    writeFileSync(file, source.sharedSnapshot());
    const target = busyStore(tempDir(), 'other');
    target.restoreSharedState(file, { generation: 2, writtenAt: 6_000, holder: 'host-a:1' });
    expect(target.memory('shop').watch).toMatchObject({ candidate: 'shop-3', stable: 'shop-1' });
    expect(target.backups.list().map((row) => row.file)).toEqual(['other.zip']);
    source.close();
    target.close();
  });

  it('sees changes by this connection and by another process, and none from reading', () => {
    const store = busyStore(tempDir());
    const before = store.changeToken();
    store.memory('shop');
    expect(store.changeToken()).toBe(before);
    store.services.setFrozen('shop', false, null, 4_000);
    const own = store.changeToken();
    expect(own).not.toBe(before);
    const cli = new Database(store.file);
    cli.prepare("UPDATE watch_services SET frozen = 1 WHERE service = 'shop'").run();
    cli.close();
    expect(store.changeToken()).not.toBe(own);
    store.close();
  });

  it('knows an empty store from one holding decision state', () => {
    const empty = Store.open(tempDir());
    expect(empty.hasSharedState()).toBe(false);
    empty.services.setFrozen('shop', true, 'x', 1);
    expect(empty.hasSharedState()).toBe(true);
    empty.close();
  });
});
