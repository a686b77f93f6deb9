import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BackupCorruptError } from '../src/archive/errors.js';
import { type CompressionMethod, type Manifest, MANIFEST_ENTRY } from '../src/archive/manifest.js';
import { runBackup } from '../src/backup/run-backup.js';
import { openArchiveEntry, readManifest, verifyArchive } from '../src/archive/verify.js';
import { ZipWriter } from '../src/archive/zip-writer.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-verify-');

interface Part {
  path: string;
  kind: 'db' | 'tenant' | 'media';
  data: Buffer;
  method?: CompressionMethod;
  /** Written into the ZIP but left out of the manifest. */
  unlisted?: boolean;
  /** Listed in the manifest but not written. */
  absent?: boolean;
}

/** Builds an archive with our writer from parts, and a manifest computed from them (then `edit`ed). */
async function buildArchive(file: string, parts: Part[], edit: (manifest: Manifest) => void = () => {}) {
  const now = new Date().toISOString();
  const manifest: Manifest = {
    format_version: 1,
    runwarden_version: 'test',
    host: 'test',
    reason: 'manual',
    trigger: 'cli',
    started_at: now,
    finished_at: now,
    databases: [],
    entries: parts
      .filter((part) => !part.unlisted)
      .map((part) => ({
        path: part.path,
        kind: part.kind,
        ...(part.kind === 'tenant' ? { tenant: path.basename(part.path, '.sqlite3') } : {}),
        size: part.data.length,
        sha256: createHash('sha256').update(part.data).digest('hex'),
        crc32: crc32(part.data) >>> 0,
        method: part.method ?? 'deflate',
      })),
  };
  edit(manifest);
  const zip = await ZipWriter.create(file);
  for (const part of parts) {
    if (!part.absent)
      await zip.add(part.path, Readable.from([part.data]), { method: part.method ?? 'deflate' });
  }
  await zip.add(MANIFEST_ENTRY, Readable.from([Buffer.from(JSON.stringify(manifest))]), {
    method: 'deflate',
  });
  await zip.finish();
  return file;
}

async function realBackup() {
  const dir = tempDir();
  makeDataDir(dir, {
    media: {
      'a.txt': 'alpha '.repeat(200),
      'b.png': Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        Buffer.from('stored bytes here'),
      ]),
    },
  });
  const store = Store.open(path.join(dir, 'state'));
  const result = await runBackup(
    { reason: 'manual', trigger: 'cli' },
    {
      config: backupConfigFor(dir),
      catalog: store.backups,
      events: new EventBus(),
      logger: silentLogger,
    },
  ).finally(() => store.close());
  return { dir, file: result.file };
}

async function corruption(file: string): Promise<BackupCorruptError> {
  const error = await verifyArchive(file).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(BackupCorruptError);
  expect(error).toMatchObject({ code: 'RW_BACKUP_CORRUPT' });
  return error as BackupCorruptError;
}

describe('verifyArchive', () => {
  it('accepts a real backup and streams its entries back', async () => {
    const { file } = await realBackup();
    const verified = await verifyArchive(file);
    expect(verified.size).toBe(readFileSync(file).length);
    expect(verified.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect((await readManifest(file)).entries).toHaveLength(verified.manifest.entries.length);
    const chunks: Buffer[] = [];
    for await (const chunk of openArchiveEntry(file, 'media/a.txt')) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('alpha '.repeat(200));
  });

  it('refuses a stored entry with one flipped byte, naming it (CRC-32 and SHA-256 mismatch)', async () => {
    const { file } = await realBackup();
    const bytes = readFileSync(file);
    const at = bytes.indexOf('stored bytes here');
    expect(at).toBeGreaterThan(0);
    bytes[at] = (bytes[at] as number) ^ 0x01;
    writeFileSync(file, bytes);
    const error = await corruption(file);
    expect(error.entry).toBe('media/b.png');
    expect(error.message).toMatch(
      /entry media\/b\.png: CRC-32 of the data is [0-9a-f]{8}, the manifest says/,
    );
  });

  it('refuses an entry whose bytes were replaced with a recomputed CRC-32 (SHA-256 catches it)', async () => {
    const dir = tempDir();
    const original = createHash('sha256').update('original media').digest('hex');
    // The ZIP's and the manifest's CRC-32 both match the forged bytes; only the SHA-256 is the original's.
    const file = await buildArchive(
      path.join(dir, 'forged.zip'),
      [{ path: 'media/x.txt', kind: 'media', data: Buffer.from('forged!! media') }],
      (manifest) => {
        (manifest.entries[0] as { sha256: string }).sha256 = original;
      },
    );
    const error = await corruption(file);
    expect(error.message).toContain(`entry media/x.txt: SHA-256 of the data is`);
    expect(error.message).toContain(`the manifest says ${original}`);
  });

  it('refuses an entry the manifest does not list, and one it lists that is missing', async () => {
    const dir = tempDir();
    const extra = await buildArchive(path.join(dir, 'extra.zip'), [
      { path: 'media/ok.txt', kind: 'media', data: Buffer.from('ok') },
      { path: 'media/smuggled.sh', kind: 'media', data: Buffer.from('rm -rf /'), unlisted: true },
    ]);
    expect((await corruption(extra)).message).toContain(
      'entry media/smuggled.sh: is in the archive but not in the manifest',
    );
    const missing = await buildArchive(path.join(dir, 'missing.zip'), [
      { path: 'media/gone.txt', kind: 'media', data: Buffer.from('gone'), absent: true },
    ]);
    expect((await corruption(missing)).message).toContain(
      'entry media/gone.txt: is listed in the manifest but missing from the archive',
    );
  });

  it('refuses a database entry with matching hashes that fails integrity_check', async () => {
    const dir = tempDir();
    const garbage = Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080, 7)]);
    const file = await buildArchive(path.join(dir, 'db.zip'), [
      { path: 'tenants/acme.sqlite3', kind: 'tenant', data: garbage },
    ]);
    const error = await corruption(file);
    expect(error.entry).toBe('tenants/acme.sqlite3');
    expect(error.message).toMatch(/not a readable SQLite database|integrity_check failed/);
  });

  it('refuses an archive without a manifest, with an unsafe path, or that is not a ZIP', async () => {
    const dir = tempDir();
    const noManifest = path.join(dir, 'nomanifest.zip');
    const zip = await ZipWriter.create(noManifest);
    await zip.add('media/a', Readable.from([Buffer.from('a')]), { method: 'store' });
    await zip.finish();
    expect((await corruption(noManifest)).message).toContain('has no manifest.json');

    const unsafe = await buildArchive(
      path.join(dir, 'unsafe.zip'),
      [{ path: 'media/ok', kind: 'media', data: Buffer.from('x') }],
      (m) => {
        (m.entries[0] as { path: string }).path = 'media/../../etc/passwd';
      },
    );
    expect((await corruption(unsafe)).message).toMatch(
      /manifest.json: does not match the manifest schema: entries\.0\.path/,
    );

    const notZip = path.join(dir, 'plain.zip');
    writeFileSync(notZip, 'this is not a zip file at all');
    expect((await corruption(notZip)).message).toContain('not a readable ZIP');
    await expect(verifyArchive(path.join(dir, 'nope.zip'))).rejects.toMatchObject({
      code: 'RW_BACKUP_NOT_FOUND',
    });
  });

  it('leaves no temp files beside the archive after checking databases', async () => {
    const { file } = await realBackup();
    await verifyArchive(file);
    expect(readdirSync(path.dirname(file)).filter((name) => name.startsWith('.runwarden-tmp'))).toEqual([]);
  });
});
