import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockDeflater, DeflatePool } from '../src/archive/deflate-pool.js';
import { BackupCorruptError } from '../src/archive/errors.js';
import { verifyArchive } from '../src/archive/verify.js';
import { type BackupProgress, runBackup } from '../src/backup/run-backup.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-verify-written-');

/** A stored media file: its bytes appear verbatim in the archive, so a test can find them. */
const PHOTO = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x5a)]);

/** Where `name`'s data starts in the ZIP `bytes` (after its local header). */
function dataOffset(bytes: Buffer, name: string): number {
  const at = bytes.indexOf(Buffer.from(name)) - 30;
  expect(bytes.readUInt32LE(at)).toBe(0x04034b50);
  return at + 30 + bytes.readUInt16LE(at + 26) + bytes.readUInt16LE(at + 28);
}

/**
 * A backup whose `.partial` archive gets one byte flipped on disk once it is written and fsynced,
 * just before the backup verifies it: the file system, not the code, corrupts what was written.
 */
async function backupWithFlippedByte(dir: string, where: (bytes: Buffer) => number) {
  const config = backupConfigFor(dir);
  const store = Store.open(path.join(dir, 'state'));
  const first = await runBackup(
    { reason: 'manual', trigger: 'cli' },
    { config, catalog: store.backups, events: new EventBus(), logger: silentLogger },
  );
  const before = readFileSync(first.file);
  let flipped = false;
  const onProgress = (progress: BackupProgress) => {
    if (progress.phase !== 'verify' || flipped) return;
    flipped = true;
    const partial = readdirSync(config.dir).find((name) => name.endsWith('.zip.partial')) as string;
    const file = path.join(config.dir, partial);
    const bytes = readFileSync(file);
    const at = where(bytes);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([(bytes[at] as number) ^ 0x01]), 0, 1, at);
    closeSync(fd);
  };
  // The second archive waits for a name of its own (runBackup's one-second naming).
  const second = runBackup(
    { reason: 'manual', trigger: 'cli' },
    { config, catalog: store.backups, events: new EventBus(), logger: silentLogger, onProgress },
  );
  const error = await second.catch((caught: unknown) => caught);
  const left = readdirSync(config.dir).filter((name) => !name.endsWith('.lock'));
  const rows = store.backups.list();
  store.close();
  return { error, flipped, first, before, left, rows };
}

describe('backup verification from the bytes as written', () => {
  it.each([
    ['a deflated database', 'db/db.sqlite3', (bytes: Buffer) => dataOffset(bytes, 'db/db.sqlite3') + 20],
    [
      'a local header (its modification time)',
      'tenants/acme.sqlite3',
      (bytes: Buffer) => dataOffset(bytes, 'tenants/acme.sqlite3') - 'tenants/acme.sqlite3'.length - 20,
    ],
    ['a stored media file', 'media/img/photo.jpg', (bytes: Buffer) => bytes.indexOf(PHOTO) + 2000],
  ])(
    'a byte of %s changed on disk after it was written fails the backup, naming the entry; the earlier archive is untouched',
    async (_what, entry, where) => {
      const dir = tempDir();
      makeDataDir(dir, { media: { 'docs/a.txt': 'text '.repeat(2000), 'img/photo.jpg': PHOTO } });
      const { error, flipped, first, before, left, rows } = await backupWithFlippedByte(dir, where);
      expect(flipped).toBe(true);
      expect(error).toBeInstanceOf(BackupCorruptError);
      expect((error as BackupCorruptError).code).toBe('RW_BACKUP_CORRUPT');
      expect((error as Error).message).toContain(entry);
      expect((error as Error).message).toMatch(/changed after it was written/);
      // Only the first archive remains, byte for byte, and only it is cataloged.
      expect(left).toEqual([path.basename(first.file)]);
      expect(readFileSync(first.file).equals(before)).toBe(true);
      expect(rows.map((row) => row.file)).toEqual([first.file]);
      await expect(verifyArchive(first.file)).resolves.toMatchObject({ sha256: first.sha256 });
    },
  );

  it('checked blocks compress exactly as unchecked ones: the check inflates and compares, it changes nothing', async () => {
    const pool = new DeflatePool(2);
    const input = Buffer.from('SQLite format 3\0'.repeat(200_000));
    const blocks = [input.subarray(0, 1 << 20), input.subarray(1 << 20, 2 << 20), input.subarray(2 << 20)];
    const run = async (check: boolean) => {
      const deflater = new BlockDeflater(pool, 4, check);
      const out = await Promise.all(blocks.map((block, i) => deflater.push(block, i === blocks.length - 1)));
      return Buffer.concat(out.flat());
    };
    expect((await run(true)).equals(await run(false))).toBe(true);
  });
});
