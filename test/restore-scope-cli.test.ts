import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { STORE_FILE, Store } from '../src/store/store.js';
import { runCli } from './helpers/cli.js';
import { createDatabase, labelsIn } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

// Spawns the built CLI: run `npx tsc -p tsconfig.json` first (npm test does).
const tempDir = useTempDir('runwarden-restore-scope-cli-');

function site() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'));
  createDatabase(path.join(data, 'db.sqlite3'), ['main 1']);
  createDatabase(path.join(data, 'tenants', 'acme.sqlite3'), ['a1', 'a2', 'a3']);
  createDatabase(path.join(data, 'tenants', 'beta.sqlite3'), ['b1']);
  writeFileSync(path.join(data, 'media', 'logo.txt'), 'logo');
  const config = path.join(root, 'runwarden.yaml');
  writeFileSync(
    config,
    'state_dir: ./state\nlog:\n  level: warn\nbackup:\n  dir: ./backups\n  sources:\n    data_dir: ./data\n',
  );
  const cli = (args: string[]) => runCli([...args, '--config', config]);
  const backup = cli(['backup', '--json']);
  expect(backup.status, backup.stderr).toBe(0);
  const archive = (JSON.parse(backup.stdout) as { file: string }).file;
  return { root, data, cli, archive, acme: path.join(data, 'tenants', 'acme.sqlite3') };
}

/** Flips one byte inside the compressed data of `entry` (found through its local header). */
function flipEntryByte(archive: string, entry: string): void {
  const bytes = readFileSync(archive);
  const header = bytes.indexOf(Buffer.from(entry)) - 30;
  expect(bytes.readUInt32LE(header)).toBe(0x04034b50);
  const start = header + 30 + bytes.readUInt16LE(header + 26) + bytes.readUInt16LE(header + 28);
  bytes[start + 20] = (bytes[start + 20] as number) ^ 0x55;
  writeFileSync(archive, bytes);
}

/** Makes the catalog row look like one written before the manifest digest existed. */
function forgetManifestDigest(root: string, archive: string): void {
  const db = new Database(path.join(root, 'state', STORE_FILE));
  try {
    db.prepare('UPDATE backups SET manifest_sha256 = NULL WHERE file = ?').run(archive);
  } finally {
    db.close();
  }
}

function manifestDigest(root: string, archive: string): string | null | undefined {
  const store = Store.open(path.join(root, 'state'));
  try {
    return store.backups.get(archive)?.manifestSha256;
  } finally {
    store.close();
  }
}

describe('runwarden restore verifies what it restores (CLI)', () => {
  it('restores a tenant from a cataloged archive whose other entry is corrupt, naming the entry verified', () => {
    const { root, cli, archive, acme } = site();
    // `backups verify` records the manifest digest of a row cataloged without one.
    expect(cli(['backups', 'verify', archive]).status).toBe(0);
    expect(manifestDigest(root, archive)).toMatch(/^[0-9a-f]{64}$/);
    flipEntryByte(archive, 'tenants/beta.sqlite3');

    const human = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup']);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain(
      '  verified: entry tenants/acme.sqlite3 (size, CRC-32, SHA-256, integrity_check) against the manifest the catalog vouches for; other entries were not read\n',
    );
    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);

    const json = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup', '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).verification).toEqual({
      method: 'catalog-manifest',
      entries: ['tenants/acme.sqlite3'],
    });

    const all = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup', '--verify-all']);
    expect(all.status).toBe(1);
    expect(all.stderr).toContain(`backup ${archive} is corrupt: entry tenants/beta.sqlite3: `);
  });

  it('a first restore from a row without a manifest digest checks the whole archive and records it', () => {
    const { root, cli, archive, acme } = site();
    // New backups record the digest; rows cataloged before migration 7 lack it.
    expect(manifestDigest(root, archive)).toMatch(/^[0-9a-f]{64}$/);
    forgetManifestDigest(root, archive);
    expect(manifestDigest(root, archive)).toBeNull();
    const first = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup', '--json']);
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).verification.method).toBe('catalog-sha256');
    expect(manifestDigest(root, archive)).toMatch(/^[0-9a-f]{64}$/);
    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);
  });

  it('an archive the catalog lacks is verified whole', () => {
    const { root, cli, archive } = site();
    const copy = path.join(root, 'elsewhere.zip');
    writeFileSync(copy, readFileSync(archive));
    const ok = cli(['restore', copy, '--tenant', 'acme', '--force', '--no-backup']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('and every other entry of the archive (not in the catalog, or --verify-all)');

    flipEntryByte(copy, 'tenants/beta.sqlite3');
    const refused = cli(['restore', copy, '--tenant', 'acme', '--force', '--no-backup']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`backup ${copy} is corrupt: entry tenants/beta.sqlite3: `);
  });
});
