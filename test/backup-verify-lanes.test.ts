import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBackup } from '../src/backup/run-backup.js';
import { BackupCorruptError, verifyArchive } from '../src/archive/verify.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-verify-lanes-');

/** A real backup of 4 databases and 40 media files; checked with a signal, as the daemon does. */
async function backupWithManyEntries() {
  const dir = tempDir();
  const media: Record<string, string> = {};
  for (let i = 0; i < 40; i++) media[`m/${i}.txt`] = `media file ${i} `.repeat(50 + i);
  makeDataDir(dir, { tenants: ['t1', 't2', 't3'], media });
  const store = Store.open(path.join(dir, 'state'));
  const result = await runBackup(
    { reason: 'manual', trigger: 'cli' },
    {
      config: backupConfigFor(dir),
      catalog: store.backups,
      events: new EventBus(),
      logger: silentLogger,
      signal: new AbortController().signal,
    },
  ).finally(() => store.close());
  return { dir, file: result.file };
}

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

describe('verifyArchive lanes', () => {
  it('checks databases beside media with one signal and no MaxListenersExceededWarning', async () => {
    const { file } = await backupWithManyEntries();
    const controller = new AbortController();
    const verified = await verifyArchive(file, { signal: controller.signal });
    expect(verified.manifest.entries).toHaveLength(44);
    // Node emits warnings on the next tick; a verification of its own lets them arrive.
    await verifyArchive(file, { signal: controller.signal });
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('names a broken database among many media entries and leaves no temp file behind', async () => {
    const { dir, file } = await backupWithManyEntries();
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('tenants/t2.sqlite3'));
    expect(at).toBeGreaterThan(0);
    const broken = path.join(dir, 'backups', 'broken.zip');
    const copy = Buffer.from(bytes);
    // Flip one byte of t2's compressed data (just past its local header's name and extra fields).
    const flip = at + 'tenants/t2.sqlite3'.length + 40;
    copy.writeUInt8(copy.readUInt8(flip) ^ 0xff, flip);
    writeFileSync(broken, copy);
    const error = await verifyArchive(broken).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackupCorruptError);
    expect(String((error as Error).message)).toContain('tenants/t2.sqlite3');
    expect(
      readdirSync(path.join(dir, 'backups')).filter((name) => name.startsWith('.runwarden-tmp')),
    ).toEqual([]);
  });

  it('rejects with the abort reason when aborted mid-way', async () => {
    const { file } = await backupWithManyEntries();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const verifying = verifyArchive(file, {
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    });
    await expect(verifying).rejects.toBe(reason);
  });
});
