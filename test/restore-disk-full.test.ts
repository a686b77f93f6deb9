import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runRestore } from '../src/restore/restore.js';
import type { BackupSourcesConfig } from '../src/config/schema/backup.js';
import { RunwardenError } from '../src/core/errors.js';
import { createDatabase, writeFixtureArchive } from './helpers/restore-archive.js';
import { skipSmallDisk, useSmallDisks } from './helpers/small-disk.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-restore-disk-full-');

const disks = useSmallDisks();

/** The bytes of a database of about `mib` MiB of incompressible rows. */
function bigDatabase(dir: string, mib: number): Buffer {
  const file = path.join(dir, 'big.fixture.sqlite3');
  const db = new Database(file);
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO items (label) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < mib * 1024; i++) insert.run(randomBytes(512).toString('hex'));
  })();
  db.close();
  const bytes = readFileSync(file);
  rmSync(file);
  return bytes;
}

// CI runs as root and must mount (a failed mount fails there); elsewhere this is skipped.
describe.skipIf(skipSmallDisk)('restore on a full disk', () => {
  it('fails clearly with the target untouched and no temp file left', async () => {
    const root = tempDir();
    const tenants = path.join(root, 'data', 'tenants');
    disks.mount(tenants, '2m');
    const sources: BackupSourcesConfig = {
      data_dir: path.join(root, 'data'),
      main_db: { path: path.join(root, 'data', 'db.sqlite3'), required: true },
      tenants: { pattern: path.join(tenants, '{tenant}.sqlite3'), required: true },
      media: { dir: path.join(root, 'data', 'media'), include: ['**'], exclude: [], required: true },
    };
    const archive = path.join(root, 'backup.zip');
    await writeFixtureArchive(archive, [
      { path: 'tenants/acme.sqlite3', kind: 'tenant', tenant: 'acme', data: bigDatabase(root, 3) },
    ]);
    const acme = path.join(tenants, 'acme.sqlite3');
    createDatabase(acme, ['current']);
    const before = readFileSync(acme);

    const error = await runRestore({
      archive,
      selection: { kind: 'tenant', tenant: 'acme' },
      sources,
      force: true,
      signal: new AbortController().signal,
    }).then(
      () => undefined,
      (failure: unknown) => failure,
    );

    expect(error).toBeInstanceOf(RunwardenError);
    expect((error as RunwardenError).code).toBe('RW_RESTORE_IO');
    expect((error as RunwardenError).message).toMatch(/ENOSPC/);
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(tenants).filter((name) => name.includes('.restore-'))).toEqual([]);
  });
});
