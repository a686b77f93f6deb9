import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runRestore } from '../src/restore/restore.js';
import { checkDatabase } from '../src/restore/safety-copy.js';
import type { BackupSourcesConfig } from '../src/config/schema/backup.js';
import { RunwardenError } from '../src/core/errors.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { createDatabase, databaseBytes, labelsIn, writeFixtureArchive } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-restore-');

/** A data folder laid out like the guide's app, and the sources config pointing at it. */
function dataFolder() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  const sources: BackupSourcesConfig = {
    data_dir: data,
    main_db: { path: path.join(data, 'db.sqlite3'), required: true },
    tenants: { pattern: path.join(data, 'tenants', '{tenant}.sqlite3'), required: true },
    media: { dir: path.join(data, 'media'), include: ['**'], exclude: [], required: true },
  };
  return { root, data, sources, archive: path.join(root, 'backup_completo_20261127_030000.zip') };
}

async function errorOf(promise: Promise<unknown>): Promise<RunwardenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RunwardenError);
    return error as RunwardenError;
  }
  throw new Error('expected a rejection');
}

function signal() {
  return new AbortController().signal;
}

describe('restore of one tenant', () => {
  it('brings its rows back and leaves a safety copy equal to the state it replaced', async () => {
    const { root, data, sources, archive } = dataFolder();
    const store = Store.open(path.join(root, 'state'));
    const restores = store.restores;
    const events = new EventBus();
    await writeFixtureArchive(archive, [
      { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['m1']) },
      {
        path: 'tenants/acme.sqlite3',
        kind: 'tenant',
        tenant: 'acme',
        data: databaseBytes(root, 'acme', ['a1', 'a2', 'a3']),
      },
      {
        path: 'tenants/beta.sqlite3',
        kind: 'tenant',
        tenant: 'beta',
        data: databaseBytes(root, 'beta', ['b1']),
      },
    ]);
    const acme = path.join(data, 'tenants', 'acme.sqlite3');
    const beta = path.join(data, 'tenants', 'beta.sqlite3');
    createDatabase(acme, ['a1', 'a2', 'a3']);
    createDatabase(beta, ['b1', 'b2-after-backup']);
    // The mistake the restore undoes: rows deleted, a bad one written (left in the WAL, as a live app would).
    const live = new Database(acme);
    live.pragma('wal_autocheckpoint = 0');
    live.exec("DELETE FROM items WHERE label != 'a1'; INSERT INTO items (label) VALUES ('bad')");
    live.close();
    const completed = events.next('restore:completed');

    const outcome = await runRestore({
      archive,
      selection: { kind: 'tenant', tenant: 'acme' },
      sources,
      force: true,
      signal: signal(),
      now: () => new Date('2026-11-28T10:20:30Z'),
      restores,
      events,
    });

    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);
    expect(labelsIn(beta)).toEqual(['b1', 'b2-after-backup']); // other tenants untouched
    expect(outcome).toMatchObject({
      kind: 'tenant',
      name: 'acme',
      entry: 'tenants/acme.sqlite3',
      target: acme,
      safetyCopy: `${acme}.pre-restore-20261128_102030`,
      safetyCopyMethod: 'snapshot',
      files: 1,
    });
    const copy = outcome.safetyCopy as string;
    expect(() => checkDatabase(copy)).not.toThrow();
    expect(labelsIn(copy)).toEqual(['a1', 'bad']);
    expect(existsSync(`${copy}.partial`)).toBe(false);

    const [record] = restores.list();
    expect(record).toMatchObject({
      id: outcome.restoreId,
      archive,
      archiveSha256: outcome.archiveSha256,
      kind: 'tenant',
      name: 'acme',
      target: acme,
      safetyCopy: copy,
      safetyCopyMethod: 'snapshot',
      result: 'completed',
      error: null,
    });
    await expect(completed).resolves.toMatchObject({ kind: 'tenant', name: 'acme', safetyCopy: copy });
    // No temp file of the restore is left beside the target.
    expect(readdirSync(path.dirname(acme)).filter((name) => name.includes('.restore-'))).toEqual([]);
    store.close();
  });

  it('restores a tenant whose database is gone, without --force and without a safety copy', async () => {
    const { root, data, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      {
        path: 'tenants/acme.sqlite3',
        kind: 'tenant',
        tenant: 'acme',
        data: databaseBytes(root, 'acme', ['a1']),
      },
    ]);
    const outcome = await runRestore({
      archive,
      selection: { kind: 'tenant', tenant: 'acme' },
      sources,
      force: false,
      signal: signal(),
    });
    expect(outcome.safetyCopy).toBeNull();
    expect(labelsIn(path.join(data, 'tenants', 'acme.sqlite3'))).toEqual(['a1']);
  });

  it.runIf(process.getuid?.() === 0)(
    "keeps the replaced file's owner and mode (restoring as root for an app user)",
    async () => {
      const { root, data, sources, archive } = dataFolder();
      await writeFixtureArchive(archive, [
        { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['m1']) },
      ]);
      const main = path.join(data, 'db.sqlite3');
      createDatabase(main, ['old']);
      chownSync(main, 1234, 2345);
      chmodSync(main, 0o640);
      await runRestore({
        archive,
        selection: { kind: 'db', name: 'main' },
        sources,
        force: true,
        signal: signal(),
      });
      const after = statSync(main);
      expect([after.uid, after.gid, after.mode & 0o777]).toEqual([1234, 2345, 0o640]);
      expect(labelsIn(main)).toEqual(['m1']);
    },
  );

  it('restores the main database to --target', async () => {
    const { root, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['m1', 'm2']) },
    ]);
    const target = path.join(root, 'elsewhere', 'copy.sqlite3');
    const outcome = await runRestore({
      archive,
      selection: { kind: 'db', name: 'main' },
      sources,
      target,
      force: false,
      signal: signal(),
    });
    expect(outcome).toMatchObject({ entry: 'db/db.sqlite3', target });
    expect(labelsIn(target)).toEqual(['m1', 'm2']);
    expect(existsSync(sources.main_db.path)).toBe(false);
  });
});

describe('restore refusals leave everything untouched', () => {
  it('refuses an existing target without --force', async () => {
    const { root, data, sources, archive } = dataFolder();
    const store = Store.open(path.join(root, 'state'));
    const restores = store.restores;
    await writeFixtureArchive(archive, [
      {
        path: 'tenants/acme.sqlite3',
        kind: 'tenant',
        tenant: 'acme',
        data: databaseBytes(root, 'acme', ['a1']),
      },
    ]);
    const acme = path.join(data, 'tenants', 'acme.sqlite3');
    createDatabase(acme, ['current']);
    const before = readFileSync(acme);
    const listing = readdirSync(path.dirname(acme));
    const error = await errorOf(
      runRestore({
        archive,
        selection: { kind: 'tenant', tenant: 'acme' },
        sources,
        force: false,
        signal: signal(),
        restores,
      }),
    );
    expect(error.code).toBe('RW_RESTORE_TARGET_EXISTS');
    expect(error.message).toBe(
      `restore target ${acme} already exists; pass --force to replace it (a safety copy is taken first)`,
    );
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(path.dirname(acme))).toEqual(listing);
    expect(restores.list()).toEqual([]);
    store.close();
  });

  it.each([
    ['a byte flipped inside the stored entry', 'flip'],
    ['an entry swapped for another valid database, manifest unchanged', 'swap'],
  ])('refuses a tampered archive (%s) with the reason', async (_what, how) => {
    const { root, data, sources, archive } = dataFolder();
    const good = databaseBytes(root, 'acme', ['a1', 'a2']);
    if (how === 'flip') {
      await writeFixtureArchive(archive, [
        { path: 'tenants/acme.sqlite3', kind: 'tenant', tenant: 'acme', data: good },
      ]);
      const bytes = readFileSync(archive);
      const at = bytes.indexOf(Buffer.from('tenants/acme.sqlite3')) + 200; // inside the deflated data
      bytes[at] = (bytes[at] as number) ^ 0xff;
      writeFileSync(archive, bytes);
    } else {
      const evil = databaseBytes(root, 'evil', ['attacker row']);
      const goodManifest = await writeFixtureArchive(path.join(root, 'good.zip'), [
        { path: 'tenants/acme.sqlite3', kind: 'tenant', tenant: 'acme', data: good },
      ]);
      await writeFixtureArchive(
        archive,
        [{ path: 'tenants/acme.sqlite3', kind: 'tenant', tenant: 'acme', data: evil }],
        (manifest) => {
          manifest.entries[0] = { ...(goodManifest.entries[0] as (typeof manifest.entries)[number]) };
        },
      );
    }
    const acme = path.join(data, 'tenants', 'acme.sqlite3');
    createDatabase(acme, ['current']);
    const before = readFileSync(acme);
    const listing = readdirSync(path.dirname(acme));
    const events = new EventBus();
    const failed = events.next('restore:failed');

    const error = await errorOf(
      runRestore({
        archive,
        selection: { kind: 'tenant', tenant: 'acme' },
        sources,
        force: true,
        signal: signal(),
        events,
      }),
    );
    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toMatch(new RegExp(`^backup ${archive} is corrupt: `));
    expect(error.message).toMatch(
      how === 'flip' ? /tenants\/acme\.sqlite3/ : /entry tenants\/acme\.sqlite3: .*(CRC-32|SHA-256|bytes)/,
    );
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(path.dirname(acme))).toEqual(listing);
    await expect(failed).resolves.toMatchObject({ code: 'RW_BACKUP_CORRUPT', name: 'acme' });
  });

  it('names what the archive holds when the tenant is not in it', async () => {
    const { root, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      {
        path: 'tenants/acme.sqlite3',
        kind: 'tenant',
        tenant: 'acme',
        data: databaseBytes(root, 'acme', ['a1']),
      },
      {
        path: 'tenants/beta.sqlite3',
        kind: 'tenant',
        tenant: 'beta',
        data: databaseBytes(root, 'beta', ['b1']),
      },
    ]);
    const error = await errorOf(
      runRestore({
        archive,
        selection: { kind: 'tenant', tenant: 'gamma' },
        sources,
        force: true,
        signal: signal(),
      }),
    );
    expect(error.code).toBe('RW_RESTORE_NO_ENTRY');
    expect(error.message).toBe(`backup ${archive} has no tenant gamma; it holds acme, beta`);
    expect(existsSync(sources.tenants.pattern.replace('{tenant}', 'gamma'))).toBe(false);
  });

  it('refuses a malformed tenant id as a usage error before reading anything', async () => {
    const { sources, archive } = dataFolder();
    const error = await errorOf(
      runRestore({
        archive,
        selection: { kind: 'tenant', tenant: '../../etc/passwd' },
        sources,
        force: true,
        signal: signal(),
      }),
    );
    expect(error.code).toBe('RW_USAGE');
  });

  it('refuses when another process keeps the database busy (the app is still running)', async () => {
    const { root, data, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['m1']) },
    ]);
    const main = path.join(data, 'db.sqlite3');
    createDatabase(main, ['live']);
    const app = new Database(main);
    app.pragma('wal_autocheckpoint = 0');
    app.prepare("INSERT INTO items (label) VALUES ('in the wal')").run();
    const reader = new Database(main);
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM items').get(); // holds a read snapshot: the WAL cannot be truncated
    try {
      const error = await errorOf(
        runRestore({
          archive,
          selection: { kind: 'db', name: 'main' },
          sources,
          force: true,
          signal: signal(),
        }),
      );
      expect(error.code).toBe('RW_RESTORE_DB_BUSY');
      expect(error.message).toMatch(/stop the app before restoring\. Nothing was changed\.$/);
      expect(app.prepare('SELECT label FROM items ORDER BY id').pluck().all()).toEqual([
        'live',
        'in the wal',
      ]);
    } finally {
      reader.prepare('COMMIT').run();
      reader.close();
      app.close();
    }
    expect(
      readdirSync(data).filter((name) => name.includes('pre-restore') || name.includes('.restore-')),
    ).toEqual([]);
  });
  it('refuses while the app still has the database open, even idle', async () => {
    const { root, data, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['m1']) },
    ]);
    const main = path.join(data, 'db.sqlite3');
    createDatabase(main, ['live']);
    const app = new Database(main);
    app.prepare("INSERT INTO items (label) VALUES ('written by the app')").run();
    try {
      const error = await errorOf(
        runRestore({
          archive,
          selection: { kind: 'db', name: 'main' },
          sources,
          force: true,
          signal: signal(),
        }),
      );
      expect(error.code).toBe('RW_RESTORE_DB_BUSY');
      expect(error.message).toContain('(another connection has it open); stop the app before restoring');
      expect(app.prepare('SELECT label FROM items ORDER BY id').pluck().all()).toEqual([
        'live',
        'written by the app',
      ]);
    } finally {
      app.close();
    }
    expect(labelsIn(main)).toEqual(['live', 'written by the app']);
  });
});

describe('stale -wal and -shm files', () => {
  it('a stale WAL of the replaced database never reaches the restored one', async () => {
    const { root, data, sources, archive } = dataFolder();
    const backupBytes = databaseBytes(root, 'main', ['backup row 1', 'backup row 2']);
    await writeFixtureArchive(archive, [{ path: 'db/db.sqlite3', kind: 'db', data: backupBytes }]);
    const main = path.join(data, 'db.sqlite3');
    // The current DB is the same database after more writes, whose WAL was never checkpointed.
    writeFileSync(main, backupBytes);
    const staleWal = path.join(root, 'stale.wal');
    const app = new Database(main);
    app.pragma('wal_autocheckpoint = 0');
    app.exec("DELETE FROM items; INSERT INTO items (label) VALUES ('only in the stale wal')");
    copyFileSync(`${main}-wal`, staleWal);
    app.close(); // checkpoints and deletes the WAL; put the stale copy back, as a crashed app leaves it
    writeFileSync(main, backupBytes);
    copyFileSync(staleWal, `${main}-wal`);
    // Proof the WAL is dangerous: SQLite would replay it onto the backup's bytes.
    const control = path.join(root, 'control', 'db.sqlite3');
    mkdirSync(path.dirname(control));
    writeFileSync(control, backupBytes);
    copyFileSync(staleWal, `${control}-wal`);
    expect(labelsIn(control)).toEqual(['only in the stale wal']);

    const outcome = await runRestore({
      archive,
      selection: { kind: 'db', name: 'main' },
      sources,
      force: true,
      signal: signal(),
    });
    expect(labelsIn(main)).toEqual(['backup row 1', 'backup row 2']);
    expect(labelsIn(outcome.safetyCopy as string)).toEqual(['only in the stale wal']); // the replaced state, kept
  });

  it('removes a stale WAL left beside a database that is gone', async () => {
    const { root, data, sources, archive } = dataFolder();
    const backupBytes = databaseBytes(root, 'main', ['backup row']);
    await writeFixtureArchive(archive, [{ path: 'db/db.sqlite3', kind: 'db', data: backupBytes }]);
    const main = path.join(data, 'db.sqlite3');
    writeFileSync(main, backupBytes);
    const app = new Database(main);
    app.pragma('wal_autocheckpoint = 0');
    app.exec("INSERT INTO items (label) VALUES ('stale')");
    const wal = readFileSync(`${main}-wal`);
    const shm = readFileSync(`${main}-shm`);
    app.close();
    // Someone deleted the broken database but not its -wal and -shm.
    for (const suffix of ['', '-wal', '-shm']) expect(existsSync(`${main}${suffix}`)).toBe(suffix === '');
    (await import('node:fs')).rmSync(main);
    writeFileSync(`${main}-wal`, wal);
    writeFileSync(`${main}-shm`, shm);

    const outcome = await runRestore({
      archive,
      selection: { kind: 'db', name: 'main' },
      sources,
      force: false,
      signal: signal(),
    });
    expect(outcome.removedSidecars.sort()).toEqual([`${main}-shm`, `${main}-wal`]);
    expect(outcome.safetyCopy).toBeNull();
    expect(labelsIn(main)).toEqual(['backup row']);
  });

  it('keeps a byte copy of a current database SQLite cannot read, then restores', async () => {
    const { root, data, sources, archive } = dataFolder();
    await writeFixtureArchive(archive, [
      { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['good']) },
    ]);
    const main = path.join(data, 'db.sqlite3');
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(main, garbage);
    writeFileSync(`${main}-journal`, 'hot journal bytes');
    const outcome = await runRestore({
      archive,
      selection: { kind: 'db', name: 'main' },
      sources,
      force: true,
      signal: signal(),
    });
    expect(outcome.safetyCopyMethod).toBe('raw-copy');
    expect(readFileSync(outcome.safetyCopy as string).equals(garbage)).toBe(true);
    expect(readFileSync(`${outcome.safetyCopy}-journal`, 'utf8')).toBe('hot journal bytes');
    expect(existsSync(`${main}-journal`)).toBe(false);
    expect(labelsIn(main)).toEqual(['good']);
  });
});
