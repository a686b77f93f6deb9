import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../src/backup/run-backup.js';
import { EventBus, type RunwardenEvents } from '../src/events/event-bus.js';
import { runDrill } from '../src/restore/drill.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { catalogedFixture, entriesOf, recordFacts } from './helpers/drill.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-drill-');

/** A site with a real backup of it (main database, tenants acme and globex, media), cataloged. */
async function site() {
  const dir = tempDir();
  const data = makeDataDir(dir, { media: { 'docs/readme.txt': 'hello '.repeat(500), 'logo.png': 'png' } });
  const config = backupConfigFor(dir);
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  const seen: Array<{ name: string; payload: unknown }> = [];
  for (const name of ['drill:completed', 'drill:failed'] as const)
    events.on(name, (payload) => seen.push({ name, payload }));
  const backup = await runBackup(
    { reason: 'manual', trigger: 'cli' },
    { config, catalog: store.backups, events, logger: silentLogger },
  );
  const drill = (extra: { beforeCleanup?: (folder: string) => void } = {}) =>
    runDrill({
      sources: config.sources,
      catalog: store.backups,
      trigger: 'cli',
      signal: new AbortController().signal,
      events,
      ...extra,
    });
  return { dir, data, config, store, events, seen, backup, drill };
}

/** Every path under `dir`, relative, sorted: what a drill must leave as it found it. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('restore drill', () => {
  it('records row counts and schema per database in the manifest of a new backup', async () => {
    const { backup } = await site();
    for (const database of backup.manifest.databases) {
      expect(database.tables).toEqual({ t: 3 });
      expect(database.schema?.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(database.schema?.user_version).toBe(0);
    }
  });

  it('restores the newest verified archive beside the main database, finds it whole, and leaves nothing behind', async () => {
    const { data, backup, seen, drill } = await site();
    const before = tree(data);
    let during: { folder: string; files: string[]; sameDevice: boolean } | undefined;
    const outcome = await drill({
      beforeCleanup: (folder) => {
        during = {
          folder,
          files: tree(folder),
          sameDevice: statSync(folder).dev === statSync(data).dev,
        };
      },
    });
    expect(outcome.problems).toEqual([]);
    expect(outcome.ok).toBe(true);
    expect(outcome.archive).toBe(backup.file);
    expect(outcome.checks).toBe('full');
    expect(outcome.note).toBeNull();
    expect(outcome.databases.map((database) => [database.label, database.tables, database.rows])).toEqual([
      ['main database', 1, 3],
      ['tenant acme', 1, 3],
      ['tenant globex', 1, 3],
    ]);
    expect(outcome.media).toMatchObject({ files: 2, problems: [] });
    // The copy was real, whole, on the data's filesystem, beside the main database...
    expect(path.dirname(during?.folder as string)).toBe(data);
    expect(during?.sameDevice).toBe(true);
    expect(during?.files).toEqual(expect.arrayContaining(['media/docs/readme.txt', 'media/logo.png']));
    // ...and is gone, with nothing else touched.
    expect(existsSync(outcome.folder)).toBe(false);
    expect(tree(data)).toEqual(before);
    expect(seen.map((event) => event.name)).toEqual(['drill:completed']);
    expect(seen[0]?.payload).toMatchObject({
      trigger: 'cli',
      archive: backup.file,
      checks: 'full',
      databases: 3,
    });
  });

  it('fails naming the tenant and table when a row count differs from the manifest, and removes the copy', async () => {
    const { dir, data, config, store, backup, seen, drill } = await site();
    const entries = entriesOf(data, backup.manifest);
    const file = await catalogedFixture(config, store, entries, (manifest) => {
      recordFacts(dir, entries, manifest);
      const acme = manifest.databases.find((database) => database.entry === 'tenants/acme.sqlite3');
      (acme?.tables as Record<string, number>).t = 4;
    });
    const before = tree(data);
    const outcome = await drill();
    expect(outcome.archive).toBe(file);
    expect(outcome.ok).toBe(false);
    expect(outcome.problems).toEqual(['tenant acme: table t has 3 rows, the manifest says 4']);
    expect(outcome.databases.find((database) => database.label === 'tenant acme')?.problems).toHaveLength(1);
    expect(existsSync(outcome.folder)).toBe(false);
    expect(tree(data)).toEqual(before);
    const failed = seen.find((event) => event.name === 'drill:failed')?.payload;
    expect(failed).toMatchObject({ code: 'RW_DRILL_FAILED', archive: file, problems: outcome.problems });
  });

  it('fails when the schema differs from the manifest', async () => {
    const { dir, data, config, store, backup, drill } = await site();
    const entries = entriesOf(data, backup.manifest);
    await catalogedFixture(config, store, entries, (manifest) => {
      recordFacts(dir, entries, manifest);
      const main = manifest.databases[0];
      if (main?.schema) main.schema = { ...main.schema, sha256: '0'.repeat(64) };
    });
    const outcome = await drill();
    expect(outcome.ok).toBe(false);
    expect(outcome.problems).toHaveLength(1);
    expect(outcome.problems[0]).toMatch(/^main database: the schema differs from the manifest's/);
  });

  it('fails on a database entry that fails integrity_check though its hashes match, and removes the copy', async () => {
    const { dir, data, config, store, backup, seen, drill } = await site();
    // A tenant whose b-tree pages are overwritten: the file opens, its hashes are the manifest's.
    const damaged = path.join(dir, 'damaged.sqlite3');
    const db = new Database(damaged);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 400; i++) insert.run('x'.repeat(200));
    })();
    db.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0xff, 4096 * 3, 4096 * 5);
    const entries = entriesOf(data, backup.manifest).map((entry) =>
      entry.path === 'tenants/globex.sqlite3' ? { ...entry, data: bytes } : entry,
    );
    const file = await catalogedFixture(config, store, entries, () => {});
    const outcome = await drill();
    expect(outcome.archive).toBe(file);
    expect(outcome.ok).toBe(false);
    expect(outcome.problems).toHaveLength(1);
    expect(outcome.problems[0]).toMatch(
      /^tenant globex: .*(integrity_check failed|not a readable SQLite database)/,
    );
    // Archives whose manifest records no counts are checked for integrity and hashes, and say so.
    expect(outcome.checks).toBe('integrity-and-hashes');
    expect(outcome.note).toMatch(/integrity and hashes only/);
    expect(existsSync(outcome.folder)).toBe(false);
    expect(readdirSync(data).filter((name) => name.includes('.restore-'))).toEqual([]);
    expect(seen.at(-1)?.name).toBe('drill:failed');
  });

  it('passes an archive written before the manifest recorded counts, saying it checked integrity and hashes only', async () => {
    const { data, config, store, backup, drill } = await site();
    await catalogedFixture(config, store, entriesOf(data, backup.manifest), () => {});
    const outcome = await drill();
    expect(outcome.ok).toBe(true);
    expect(outcome.checks).toBe('integrity-and-hashes');
    expect(outcome.databases.every((database) => database.checks === 'integrity-and-hashes')).toBe(true);
    expect(outcome.note).toMatch(/predates restore drills/);
  });

  it('refuses with RW_DRILL_NO_ARCHIVE when no archive is verified, emitting drill:failed', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = backupConfigFor(dir);
    const store = Store.open(path.join(dir, 'state'));
    const events = new EventBus();
    const failed: RunwardenEvents['drill:failed'][] = [];
    events.on('drill:failed', (event) => failed.push(event));
    await expect(
      runDrill({
        sources: config.sources,
        catalog: store.backups,
        trigger: 'schedule',
        signal: new AbortController().signal,
        events,
      }),
    ).rejects.toMatchObject({ code: 'RW_DRILL_NO_ARCHIVE' });
    expect(failed).toMatchObject([{ archive: null, code: 'RW_DRILL_NO_ARCHIVE', trigger: 'schedule' }]);
  });

  it('removes the copy when the drill stops with an error once everything is restored', async () => {
    const { data, drill } = await site();
    let folder = '';
    const outcome = drill({
      beforeCleanup: (at) => {
        folder = at;
        throw new Error('stopped by the test');
      },
    });
    await expect(outcome).rejects.toThrow(/stopped by the test/);
    expect(folder).not.toBe('');
    expect(existsSync(folder)).toBe(false);
    expect(readdirSync(data).filter((name) => name.includes('.restore-'))).toEqual([]);
  });

  it('stopped by its signal (the daemon stopping), removes the copy and emits nothing', async () => {
    const { data, seen, config, store, events } = await site();
    const stop = new AbortController();
    let folder = '';
    const drill = runDrill({
      sources: config.sources,
      catalog: store.backups,
      trigger: 'schedule',
      signal: stop.signal,
      events,
      beforeCleanup: (at) => {
        folder = at;
        stop.abort(new Error('daemon stopping'));
        stop.signal.throwIfAborted();
      },
    });
    await expect(drill).rejects.toThrow('daemon stopping');
    expect(existsSync(folder)).toBe(false);
    expect(readdirSync(data).filter((name) => name.includes('.restore-'))).toEqual([]);
    expect(seen).toEqual([]);
  });
});
