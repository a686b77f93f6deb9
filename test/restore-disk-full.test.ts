import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runRestore } from '../src/backup/restore.js';
import type { BackupSourcesConfig } from '../src/config/schema/backup.js';
import { RunwardenError } from '../src/errors.js';
import { createDatabase, writeFixtureArchive } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-restore-disk-full-');

/** Mounts a 2 MiB tmpfs at `dir`; false when this environment does not permit mounting. */
function mountSmallDisk(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]).status === 0;
}

const probe = path.join(process.env.TMPDIR ?? '/tmp', `runwarden-restore-mount-probe-${process.pid}`);
const canMount = mountSmallDisk(probe);
if (canMount) execFileSync('umount', [probe]);
rmSync(probe, { recursive: true, force: true });

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

describe('restore on a full disk', () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const mount of mounts.splice(0)) spawnSync('umount', [mount]);
  });

  // CI runs as root and can mount; elsewhere (no CAP_SYS_ADMIN) this one test is skipped.
  it.skipIf(!canMount)('fails clearly with the target untouched and no temp file left', async () => {
    const root = tempDir();
    const tenants = path.join(root, 'data', 'tenants');
    expect(mountSmallDisk(tenants)).toBe(true);
    mounts.push(tenants);
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
