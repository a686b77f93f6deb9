import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { scheduledBackupJob } from '../src/app/backup-schedule.js';
import { createBackupService } from '../src/app/backup-service.js';
import { BackupCorruptError, BackupSourceMissingError } from '../src/archive/errors.js';
import { acquireBackupLock, BACKUP_LOCK_FILE } from '../src/backup/lock.js';
import { type BackupResult, runBackup } from '../src/backup/run-backup.js';
import { readManifestDigest } from '../src/archive/manifest-read.js';
import { verifyArchive } from '../src/archive/verify.js';
import type { BackupConfig } from '../src/config/schema/backup.js';
import { EventBus, type RunwardenEvents } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { createLogger } from '../src/telemetry/logger.js';
import { backupMetrics, observeBackups } from '../src/telemetry/metrics-backup.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

const tempDir = useTempDir('runwarden-backup-');

function harness(dir: string, config: BackupConfig = backupConfigFor(dir)) {
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  const catalog = store.backups;
  const run = (reason: 'manual' | 'pre-deploy' | 'pre-restore' = 'manual') =>
    runBackup({ reason, trigger: 'cli' }, { config, catalog, events, logger: silentLogger });
  return { config, store, events, catalog, run };
}

describe('backup run', () => {
  it("records the manifest's SHA-256 in the catalog, so a restore can trust it without rehashing the archive", async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const { catalog, run, store } = harness(dir);
    const result = await run();
    const read = await readManifestDigest(result.file);
    expect(catalog.get(result.file)?.manifestSha256).toBe(read.sha256);
    store.close();
  });

  it('writes a verified archive with every source, a manifest, a catalog row, events and metrics', async () => {
    const dir = tempDir();
    makeDataDir(dir, { media: { 'docs/a.txt': 'text '.repeat(100), 'img/photo.jpg': jpeg(2000) } });
    const { events, catalog, run, store } = harness(dir);
    const registry = new Registry();
    const metrics = backupMetrics(registry);
    observeBackups(events, metrics);
    const completed = events.next('backup:completed');
    const result: BackupResult = await run();
    const [row] = catalog.list();
    store.close();

    expect(path.basename(result.file)).toMatch(/^backup_completo_\d{8}_\d{6}\.zip$/);
    const verified = await verifyArchive(result.file);
    expect(verified.sha256).toBe(result.sha256);
    const { manifest } = verified;
    expect(manifest.entries.map((entry) => entry.path)).toEqual([
      'db/db.sqlite3',
      'tenants/acme.sqlite3',
      'tenants/globex.sqlite3',
      'media/docs/a.txt',
      'media/img/photo.jpg',
    ]);
    expect(manifest.entries.find((entry) => entry.path === 'tenants/acme.sqlite3')).toMatchObject({
      kind: 'tenant',
      tenant: 'acme',
      method: 'deflate',
    });
    expect(manifest.entries.find((entry) => entry.path === 'media/img/photo.jpg')?.method).toBe('store');
    expect(manifest).toMatchObject({ format_version: 1, reason: 'manual', trigger: 'cli' });
    expect(manifest.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
    expect(manifest.databases).toHaveLength(3);
    expect(manifest.databases[0]).toMatchObject({ entry: 'db/db.sqlite3', journal_mode: 'wal', restarts: 0 });
    expect(manifest.databases[0]?.page_count).toBeGreaterThan(0);

    expect(row).toMatchObject({
      file: result.file,
      sha256: result.sha256,
      status: 'verified',
      reason: 'manual',
    });
    expect((await completed).file).toBe(result.file);
    const text = await registry.metrics();
    expect(text).toContain('runwarden_backup_runs_total{result="completed"} 1');
    expect(text).toMatch(/runwarden_backup_bytes_written_total\{method="store"\} [1-9]/);
    expect(text).toContain(`runwarden_backup_last_size_bytes ${result.size}`);
    // Nothing but the archive is left in the folder: no partial, no temp file, no lock.
    expect(readdirSync(result.file.replace(/\/[^/]+$/, ''))).toEqual([path.basename(result.file)]);
  });

  it.each([
    ['main_db', (data: string) => rmSync(path.join(data, 'db.sqlite3'))],
    ['tenants', (data: string) => rmSync(path.join(data, 'tenants'), { recursive: true })],
    ['media', (data: string) => rmSync(path.join(data, 'media'), { recursive: true })],
  ])('fails naming the missing required source %s, and writes no archive', async (source, remove) => {
    const dir = tempDir();
    remove(makeDataDir(dir));
    const { run, events, store, config } = harness(dir);
    const failed = events.next('backup:failed');
    const error = await run().catch((caught: unknown) => caught);
    store.close();
    expect(error).toBeInstanceOf(BackupSourceMissingError);
    expect((error as Error).message).toContain(`backup source ${source}`);
    expect(await failed).toMatchObject({ code: 'RW_BACKUP_SOURCE_MISSING' });
    expect(readdirSync(config.dir)).toEqual([]);
  });

  it('refuses a database whose snapshot fails integrity_check, naming it, and writes no archive', async () => {
    const dir = tempDir();
    const data = makeDataDir(dir);
    corruptIndex(path.join(data, 'tenants', 'acme.sqlite3'));
    const { run, events, store, config } = harness(dir);
    const failed = events.next('backup:failed');
    const error = await run().catch((caught: unknown) => caught);
    store.close();
    expect(error).toBeInstanceOf(BackupCorruptError);
    expect((error as Error).message).toContain('entry tenants/acme.sqlite3: snapshot of');
    expect((error as Error).message).toContain('integrity_check failed');
    expect(await failed).toMatchObject({ code: 'RW_BACKUP_CORRUPT' });
    // No archive, partial or temp file is left.
    expect(readdirSync(config.dir)).toEqual([]);
  });

  it('skips a missing optional source with a warning in the manifest', async () => {
    const dir = tempDir();
    rmSync(path.join(makeDataDir(dir), 'media'), { recursive: true });
    const config = backupConfigFor(dir, { sources: { data_dir: './data', media: { required: false } } });
    const { run, store } = harness(dir, config);
    const result = await run().finally(() => store.close());
    expect(result.manifest.entries.some((entry) => entry.kind === 'media')).toBe(false);
    expect(result.manifest.warnings?.join('\n')).toContain('optional source media skipped');
  });

  it('warns, in the log and the manifest, about a database in rollback-journal mode', async () => {
    const dir = tempDir();
    const data = makeDataDir(dir);
    const db = new Database(path.join(data, 'tenants', 'acme.sqlite3'));
    db.pragma('journal_mode = DELETE');
    db.close();
    const { run, store } = harness(dir);
    const result = await run().finally(() => store.close());
    expect(
      result.manifest.databases.find((entry) => entry.entry === 'tenants/acme.sqlite3')?.journal_mode,
    ).toBe('delete');
    expect(result.warnings.join('\n')).toMatch(
      /acme\.sqlite3 is in delete journal mode, not WAL: its writers were blocked/,
    );
    expect(result.manifest.warnings).toEqual(result.warnings);
  });

  it('removes partial and temp files left by an interrupted run, and takes over its stale lock', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const { run, store, config } = harness(dir);
    const backups = config.dir;
    rmSync(backups, { recursive: true, force: true });
    mkdirSync(backups);
    const stale = [
      'backup_completo_20200101_000000.zip.partial',
      '.runwarden-tmp-999999-abcd-snapshot-db.sqlite3',
    ];
    for (const name of stale) writeFileSync(path.join(backups, name), 'junk');
    writeFileSync(path.join(backups, BACKUP_LOCK_FILE), JSON.stringify({ pid: 999999, since: 'x' }));
    const result = await run().finally(() => store.close());
    expect(readdirSync(backups)).toEqual([path.basename(result.file)]);
  });

  it('never runs two backups at once: the second waits for the lock, or fails clearly past lock_wait', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const { run, store, catalog, events, config } = harness(dir);
    try {
      const [first, second] = await Promise.all([run(), run()]);
      const spans = [first, second]
        .map(
          (result) =>
            [Date.parse(result.manifest.started_at), Date.parse(result.manifest.finished_at)] as const,
        )
        .sort((a, b) => a[0] - b[0]);
      expect(spans[0]?.[1]).toBeLessThanOrEqual(spans[1]?.[0] as number);
      expect(first.file).not.toBe(second.file);
      expect(catalog.list()).toHaveLength(2);

      // Another process's run is simulated by holding the very lock every run takes.
      const held = await acquireBackupLock(config.dir, { waitMs: 0 });
      const refused = await runBackup(
        { reason: 'manual', trigger: 'cli' },
        { config: { ...config, lock_wait: 0 }, catalog, events, logger: silentLogger },
      ).catch((caught: unknown) => caught);
      expect(refused).toMatchObject({ code: 'RW_LOCK_HELD' });
      expect((refused as Error).message).toMatch(/a backup is already running \(pid \d+ holds/);
      const lines: string[] = [];
      const logger = createLogger({
        format: 'json',
        destination: new Writable({
          write: (chunk, _encoding, done) => done(void lines.push(String(chunk))),
        }),
      });
      const patient = runBackup({ reason: 'manual', trigger: 'cli' }, { config, catalog, events, logger });
      // The run says it waits as it starts waiting, and gives up only after lock_wait.
      await waitFor(
        () => (lines.some((line) => line.includes('another backup is running; waiting')) ? true : undefined),
        'the second run to wait for the lock',
        { ms: config.lock_wait, basis: 'backup.lock_wait' },
      );
      const releasedAt = Date.now();
      held.release();
      const waited = await patient;
      expect(Date.parse(waited.manifest.started_at)).toBeGreaterThanOrEqual(releasedAt);
    } finally {
      store.close();
    }
  });

  it('the daemon job prunes only after a successful backup', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const { store, events, config } = harness(dir);
    const pruned: Array<RunwardenEvents['backups:pruned']> = [];
    events.on('backups:pruned', (event) => pruned.push(event));
    const job = scheduledBackupJob(
      createBackupService({ config, store: () => store, events, logger: silentLogger }),
    );
    try {
      await job.runOnce(new AbortController().signal);
      expect(pruned).toEqual([{ retained: 1, deleted: [], dryRun: false }]);
      rmSync(path.join(dir, 'data', 'db.sqlite3'));
      await expect(job.runOnce(new AbortController().signal)).rejects.toThrow(/backup source main_db/);
      expect(pruned).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});

function jpeg(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x55);
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0);
  return bytes;
}

/**
 * Replaces `file` with a database whose index disagrees with its table: one key in the index's
 * page is rewritten on disk, so the b-trees stay readable but `integrity_check` reports the row.
 */
function corruptIndex(file: string): void {
  rmSync(file, { force: true });
  for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < 20; i++) insert.run(`value-${String(i).padStart(4, '0')}`);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const root = (
    db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 't_v'").get() as { rootpage: number }
  ).rootpage;
  db.close();
  const bytes = readFileSync(file);
  const page = bytes.subarray((root - 1) * pageSize, root * pageSize);
  const at = page.indexOf('value-0007');
  expect(at).toBeGreaterThan(0);
  page.write('VALUE-0007', at, 'latin1');
  writeFileSync(file, bytes);
}
