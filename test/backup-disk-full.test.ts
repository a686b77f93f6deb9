import { PROCESS_START, SLOWDOWN } from './helpers/deadlines.js';
import { plus } from './helpers/wait.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { scheduledBackupJob } from '../src/app/backup-schedule.js';
import { createBackupService } from '../src/app/backup-service.js';
import { BackupDiskFullError } from '../src/archive/errors.js';
import { type BackupProgress, runBackup } from '../src/backup/run-backup.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { spawnCli, waitFor } from './helpers/cli.js';
import { fillDisk, skipSmallDisk, useSmallDisks } from './helpers/small-disk.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-disk-full-');
const disks = useSmallDisks();

// CI runs as root and must mount (a failed mount fails there); elsewhere these are skipped.
describe.skipIf(skipSmallDisk)('backup on a full disk', () => {
  it('fails clearly, removes its partial file, leaves older backups untouched, and does not prune', async () => {
    const dir = tempDir();
    const data = makeDataDir(dir, { media: { 'small.txt': 'small' } });
    const config = backupConfigFor(dir);
    disks.mount(config.dir, '2m');
    const store = Store.open(path.join(dir, 'state'));
    const catalog = store.backups;
    const events = new EventBus();
    try {
      const older = await runBackup(
        { reason: 'manual', trigger: 'cli' },
        { config, catalog, events, logger: silentLogger },
      );
      const olderBytes = readFileSync(older.file);
      const olderMtime = statSync(older.file).mtimeMs;

      // 3 MiB of incompressible media cannot fit on the 2 MiB disk.
      writeFileSync(path.join(data, 'media', 'big.bin'), randomBytes(3 * 1024 * 1024));
      let pruned = 0;
      events.on('backups:pruned', () => {
        pruned++;
      });
      const job = scheduledBackupJob(
        createBackupService({ config, store: () => store, events, logger: silentLogger }),
      );
      const failed = events.next('backup:failed');
      const error = await job.runOnce(new AbortController().signal).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BackupDiskFullError);
      expect(error).toMatchObject({ code: 'RW_BACKUP_DISK_FULL' });
      expect((error as Error).message).toContain(`backup folder ${config.dir} is full (ENOSPC)`);
      expect((error as Error).message).toContain('the partial archive was removed');
      expect(await failed).toMatchObject({ code: 'RW_BACKUP_DISK_FULL' });
      expect(pruned).toBe(0);

      expect(readdirSync(config.dir)).toEqual([path.basename(older.file)]);
      expect(readFileSync(older.file).equals(olderBytes)).toBe(true);
      expect(statSync(older.file).mtimeMs).toBe(olderMtime);
      expect(catalog.list().map((row) => row.file)).toEqual([older.file]);
    } finally {
      store.close();
    }
  });
});

/** Where the disk fills: before the backup starts, or while its archive is written. */
type FullAt = 'start' | 'archive';

/**
 * Data with a 256 KiB media file, and a backup folder on a small disk of its own, beside a filler
 * that stands for everything else on it (see fillDisk); the caller closes the store.
 */
function backupOnSmallDisk() {
  const dir = tempDir();
  makeDataDir(dir, { media: { 'photo.bin': randomBytes(256 * 1024) } });
  const disk = path.join(dir, 'disk');
  disks.mount(disk, '8m');
  const config = backupConfigFor(dir, { dir: path.join(disk, 'backups') });
  return { disk, config, store: Store.open(path.join(dir, 'state')) };
}

describe.skipIf(skipSmallDisk)('a backup after a full disk', () => {
  it.each<[string, FullAt]>([
    ['with 0 bytes free from the start', 'start'],
    ['when the disk fills while the archive is written', 'archive'],
  ])(
    '%s, the failed backup leaves nothing behind and the next one succeeds once space is freed',
    async (_what, at) => {
      const { disk, config, store } = backupOnSmallDisk();
      const catalog = store.backups;
      const events = new EventBus();
      const run = (onProgress?: (progress: BackupProgress) => void) =>
        runBackup(
          { reason: 'manual', trigger: 'cli' },
          { config, catalog, events, logger: silentLogger, ...(onProgress ? { onProgress } : {}) },
        );
      try {
        let filler: string | undefined;
        if (at === 'start') filler = fillDisk(disk);
        const error = await run((progress) => {
          if (progress.phase === at && filler === undefined) filler = fillDisk(disk);
        }).catch((caught: unknown) => caught);
        expect(filler, 'the disk was filled').toBeDefined();
        expect(error).toBeInstanceOf(BackupDiskFullError);
        // No lock, no partial archive, no temp file: nothing that a later run must step over.
        expect(readdirSync(config.dir)).toEqual([]);
        expect(catalog.list()).toEqual([]);

        rmSync(filler as string);
        const next = await run();
        expect(readdirSync(config.dir)).toEqual([path.basename(next.file)]);
        expect(catalog.list().map((row) => row.file)).toEqual([next.file]);
      } finally {
        store.close();
      }
    },
  );

  it('a backup whose disk fills while its archive is verified still completes: verifying writes nothing', async () => {
    const { disk, config, store } = backupOnSmallDisk();
    try {
      let filler: string | undefined;
      // The databases passed integrity_check as they were snapshotted; verification only re-reads.
      const result = await runBackup(
        { reason: 'manual', trigger: 'cli' },
        {
          config,
          catalog: store.backups,
          events: new EventBus(),
          logger: silentLogger,
          onProgress: (progress) => {
            if (progress.phase === 'verify' && filler === undefined) filler = fillDisk(disk);
          },
        },
      );
      expect(filler, 'the disk was filled').toBeDefined();
      expect(readdirSync(config.dir)).toEqual([path.basename(result.file)]);
      expect(store.backups.list().map((row) => row.file)).toEqual([result.file]);
    } finally {
      store.close();
    }
  });

  it("the daemon's scheduled backup succeeds again once space is freed, with nobody touching the folder", async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const disk = path.join(dir, 'disk');
    disks.mount(disk, '8m');
    const backups = path.join(disk, 'backups');
    mkdirSync(backups);
    const filler = fillDisk(disk);
    const configFile = path.join(dir, 'runwarden.yaml');
    // A backup every second; a run that finds the lock held gives up after 1 s.
    const scheduleMs = 1_000;
    const lockWaitMs = 1_000;
    writeFileSync(
      configFile,
      stringify({
        state_dir: './state',
        server: { address: '127.0.0.1:0' },
        log: { format: 'json', level: 'info' },
        backup: {
          dir: backups,
          schedule: '* * * * * *',
          lock_wait: `${lockWaitMs / 1000}s`,
          sources: { data_dir: './data' },
        },
      }),
    );
    const daemon = spawnCli(['daemon', '--config', configFile]);
    try {
      const logged = (message: string) => () =>
        daemon.output.stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { message: string; code?: string })
          .find((line) => line.message === message);
      // Several scheduled runs must fit in each deadline, each at most a lock wait plus a backup.
      const deadline = plus(PROCESS_START, {
        ms: SLOWDOWN * (scheduleMs + lockWaitMs),
        basis: `${SLOWDOWN} x (backup schedule ${scheduleMs} ms + lock wait ${lockWaitMs} ms)`,
      });
      const failed = await waitFor(logged('backup failed'), 'a scheduled backup to fail', deadline);
      expect(failed.code).toBe('RW_BACKUP_DISK_FULL');
      rmSync(filler);
      await waitFor(
        logged('backup completed'),
        'a scheduled backup to succeed after space was freed',
        deadline,
      );
      daemon.child.kill('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      const left = readdirSync(backups);
      expect(left.length).toBeGreaterThan(0);
      expect(left.every((name) => /^backup_completo_\d{8}_\d{6}\.zip$/.test(name))).toBe(true);
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
      await daemon.exited;
    }
  });
});
