import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importArchive } from '../src/backup/catalog.js';
import { type RestoreRequest, runRestore } from '../src/restore/restore.js';
import { openZip } from '../src/archive/zip-reader.js';
import type { BackupSourcesConfig } from '../src/config/schema/backup.js';
import { RunwardenError } from '../src/core/errors.js';
import type { BackupsRepo } from '../src/store/backups-repo.js';
import { Store } from '../src/store/store.js';
import {
  createDatabase,
  databaseBytes,
  type FixtureEntry,
  labelsIn,
  writeFixtureArchive,
} from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

// A restore verifies what it restores: the manifest is authenticated against the catalog, then only
// the restored entries are read and checked; an archive the catalog lacks is verified whole.
const tempDir = useTempDir('runwarden-restore-scope-');

function site() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  const sources: BackupSourcesConfig = {
    data_dir: data,
    main_db: { path: path.join(data, 'db.sqlite3'), required: true },
    tenants: { pattern: path.join(data, 'tenants', '{tenant}.sqlite3'), required: true },
    media: { dir: path.join(data, 'media'), include: ['**'], exclude: [], required: true },
  };
  const store = Store.open(path.join(root, 'state'));
  const catalog = store.backups;
  const archive = path.join(root, 'backups', 'backup_completo_20261127_030000.zip');
  mkdirSync(path.dirname(archive));
  const acme = path.join(data, 'tenants', 'acme.sqlite3');
  const restore = (extra: Partial<RestoreRequest> = {}) =>
    runRestore({
      archive,
      selection: { kind: 'tenant', tenant: 'acme' },
      sources,
      force: true,
      signal: new AbortController().signal,
      catalog,
      ...extra,
    });
  return { root, data, sources, store, catalog, archive, acme, restore };
}

function entries(root: string, acme = ['a1', 'a2', 'a3']): FixtureEntry[] {
  return [
    { path: 'tenants/acme.sqlite3', kind: 'tenant', tenant: 'acme', data: databaseBytes(root, 'acme', acme) },
    {
      path: 'tenants/beta.sqlite3',
      kind: 'tenant',
      tenant: 'beta',
      data: databaseBytes(root, 'beta', ['b1']),
    },
    { path: 'media/logo.png', kind: 'media', data: Buffer.alloc(4096, 7) },
  ];
}

/** Flips a byte inside the data of `entry` (found through its local header). */
function flipEntryByte(archive: string, entry: string): void {
  const bytes = readFileSync(archive);
  const header = bytes.indexOf(Buffer.from(entry)) - 30;
  expect(bytes.readUInt32LE(header)).toBe(0x04034b50);
  const start = header + 30 + bytes.readUInt16LE(header + 26) + bytes.readUInt16LE(header + 28);
  bytes[start + 20] = (bytes[start + 20] as number) ^ 0x55;
  writeFileSync(archive, bytes);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A catalog row as written before migration 007 (no manifest digest). */
function catalogWithoutManifestDigest(catalog: BackupsRepo, archive: string): void {
  catalog.record({
    file: archive,
    size: statSync(archive).size,
    sha256: sha256(archive),
    reason: 'manual',
    trigger: 'cli',
    startedAt: new Date(),
    finishedAt: new Date(),
    entries: 3,
    verifiedAt: new Date(),
  });
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

/** What a refused restore must leave: the target as it was and nothing of the restore beside it. */
function untouched(acme: string) {
  const before = readFileSync(acme);
  const listing = readdirSync(path.dirname(acme));
  return () => {
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(path.dirname(acme))).toEqual(listing);
  };
}

describe('restore from a cataloged archive', () => {
  it('restores an intact tenant although another entry is corrupt, and says which entry it verified', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    await importArchive(archive, catalog); // fully verified once, its manifest digest recorded
    expect(catalog.get(archive)?.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    flipEntryByte(archive, 'tenants/beta.sqlite3');
    flipEntryByte(archive, 'media/logo.png');
    createDatabase(acme, ['broken']);

    const outcome = await restore();

    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);
    expect(outcome.verification).toEqual({ method: 'catalog-manifest', entries: ['tenants/acme.sqlite3'] });
    expect(outcome.archiveSha256).toBe(catalog.get(archive)?.sha256);
    expect(outcome.safetyCopy).not.toBeNull();
    store.close();
  });

  it('still refuses a byte changed inside the restored entry, touching nothing', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    await importArchive(archive, catalog);
    flipEntryByte(archive, 'tenants/acme.sqlite3');
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore());

    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toMatch(
      new RegExp(`^backup ${archive} is corrupt: entry tenants/acme\\.sqlite3: `),
    );
    check();
    store.close();
  });

  it('refuses a manifest edited after cataloging (same size, self-consistent archive)', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    const good = entries(root);
    await writeFixtureArchive(archive, good, undefined, { store: true });
    await importArchive(archive, catalog);
    const size = statSync(archive).size;
    // Another archive of the same length whose manifest vouches for the attacker's database.
    const evil = databaseBytes(root, 'evil', ['attacker']);
    expect(evil.length).toBe(good[0]?.data.length);
    await writeFixtureArchive(
      archive,
      [{ ...(good[0] as FixtureEntry), data: evil }, ...good.slice(1)],
      undefined,
      {
        store: true,
      },
    );
    expect(statSync(archive).size).toBe(size);
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore());

    expect(error.code).toBe('RW_BACKUP_CHANGED');
    expect(error.message).toContain(
      `backup ${archive} changed since it was cataloged: its manifest's SHA-256 is `,
    );
    check();
    store.close();
  });

  it('refuses an archive whose size is not the cataloged one', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    await importArchive(archive, catalog);
    writeFileSync(archive, Buffer.concat([readFileSync(archive), Buffer.from('trailing')]));
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore());

    expect(error.code).toBe('RW_BACKUP_CHANGED');
    expect(error.message).toMatch(/changed since it was cataloged: it is \d+ bytes, the catalog says \d+/);
    check();
    store.close();
  });

  it('checks the central directory against the manifest before reading the entry', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    // The manifest the catalog vouches for says another CRC-32 than the ZIP's record of the entry.
    await writeFixtureArchive(archive, entries(root), (manifest) => {
      const entry = manifest.entries[0] as (typeof manifest.entries)[number];
      entry.crc32 = (entry.crc32 + 1) >>> 0;
    });
    const manifestSha256 = createHash('sha256')
      .update(await manifestBytes(archive))
      .digest('hex');
    catalog.record({
      file: archive,
      size: statSync(archive).size,
      sha256: sha256(archive),
      manifestSha256,
      reason: 'manual',
      trigger: 'cli',
      startedAt: new Date(),
      finishedAt: new Date(),
      entries: 3,
      verifiedAt: new Date(),
    });
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore());

    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toMatch(
      /entry tenants\/acme\.sqlite3: ZIP CRC-32 is [0-9a-f]{8}, the manifest says/,
    );
    check();
    store.close();
  });

  it('--verify-all checks every entry: a corrupt other entry refuses the restore', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    await importArchive(archive, catalog);
    flipEntryByte(archive, 'tenants/beta.sqlite3');
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore({ verifyAll: true }));

    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toContain('entry tenants/beta.sqlite3');
    check();
    store.close();
  });

  it('media: every restored file is checked before the first is written', async () => {
    const { root, data, store, catalog, archive, sources, restore } = site();
    await writeFixtureArchive(archive, [
      ...entries(root),
      { path: 'media/z-last.png', kind: 'media', data: Buffer.alloc(4096, 9) },
    ]);
    await importArchive(archive, catalog);
    flipEntryByte(archive, 'media/z-last.png');

    const error = await errorOf(restore({ selection: { kind: 'media' }, sources }));

    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toContain('entry media/z-last.png');
    expect(existsSync(path.join(data, 'media'))).toBe(false);
    store.close();
  });
});

describe('restore from a catalog row without a manifest digest (before migration 007)', () => {
  it('checks the whole file against the catalog, then records the digest for the next restore', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    catalogWithoutManifestDigest(catalog, archive);
    createDatabase(acme, ['broken']);

    const first = await restore();
    expect(first.verification.method).toBe('catalog-sha256');
    expect(first.archiveSha256).toBe(sha256(archive));
    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);
    expect(catalog.get(archive)?.manifestSha256).toMatch(/^[0-9a-f]{64}$/);

    const second = await restore();
    expect(second.verification.method).toBe('catalog-manifest');
    store.close();
  });

  it('refuses an archive replaced since it was cataloged, and says why a damaged one is', async () => {
    const { root, store, catalog, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root), undefined, { store: true });
    catalogWithoutManifestDigest(catalog, archive);
    createDatabase(acme, ['current']);
    const check = untouched(acme);
    const evil = databaseBytes(root, 'evil', ['attacker']);
    const good = entries(root);
    await writeFixtureArchive(
      archive,
      [{ ...(good[0] as FixtureEntry), data: evil }, ...good.slice(1)],
      undefined,
      {
        store: true,
      },
    );

    const replaced = await errorOf(restore());
    expect(replaced.code).toBe('RW_BACKUP_CHANGED');
    expect(replaced.message).toContain(`backup ${archive} changed since it was cataloged: its SHA-256 is `);
    expect(catalog.get(archive)?.manifestSha256).toBeNull();

    flipEntryByte(archive, 'tenants/beta.sqlite3');
    const damaged = await errorOf(restore());
    expect(damaged.code).toBe('RW_BACKUP_CORRUPT');
    expect(damaged.message).toContain('entry tenants/beta.sqlite3');
    check();
    store.close();
  });
});

describe('restore from an archive the catalog lacks', () => {
  it('verifies the whole archive: a corrupt other entry refuses the restore, touching nothing', async () => {
    const { root, store, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));
    flipEntryByte(archive, 'tenants/beta.sqlite3');
    createDatabase(acme, ['current']);
    const check = untouched(acme);

    const error = await errorOf(restore());

    expect(error.code).toBe('RW_BACKUP_CORRUPT');
    expect(error.message).toContain('entry tenants/beta.sqlite3');
    check();
    store.close();
  });

  it('restores an intact one and says it verified it whole', async () => {
    const { root, store, archive, acme, restore } = site();
    await writeFixtureArchive(archive, entries(root));

    const outcome = await restore();

    expect(outcome.verification).toEqual({ method: 'full', entries: ['tenants/acme.sqlite3'] });
    expect(outcome.archiveSha256).toBe(sha256(archive));
    expect(labelsIn(acme)).toEqual(['a1', 'a2', 'a3']);
    store.close();
  });
});

/** The uncompressed bytes of manifest.json, read with the ZIP reader the restore uses. */
async function manifestBytes(archive: string): Promise<Buffer> {
  const zip = await openZip(archive);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.open(zip.entries.get('manifest.json') as never)) chunks.push(chunk);
    return Buffer.concat(chunks);
  } finally {
    zip.close();
  }
}
