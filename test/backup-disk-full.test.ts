import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackupJob } from '../src/backup/backup-job.js';
import { BackupDiskFullError } from '../src/backup/errors.js';
import { runBackup } from '../src/backup/run-backup.js';
import { EventBus } from '../src/events.js';
import { BackupsRepo } from '../src/store/backups-repo.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-disk-full-');

/** Mounts a 2 MiB tmpfs at `dir`; false when this environment does not permit mounting. */
function mountSmallDisk(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { encoding: 'utf8' });
  return result.status === 0;
}

const probe = path.join(process.env.TMPDIR ?? '/tmp', `runwarden-mount-probe-${process.pid}`);
const canMount = mountSmallDisk(probe);
if (canMount) execFileSync('umount', [probe]);

describe('backup on a full disk', () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const mount of mounts.splice(0)) spawnSync('umount', [mount]);
  });

  // CI runs as root and can mount; elsewhere (no CAP_SYS_ADMIN) this one test is skipped.
  it.skipIf(!canMount)(
    'fails clearly, removes its partial file, leaves older backups untouched, and does not prune',
    async () => {
      const dir = tempDir();
      const data = makeDataDir(dir, { media: { 'small.txt': 'small' } });
      const config = backupConfigFor(dir);
      expect(mountSmallDisk(config.dir)).toBe(true);
      mounts.push(config.dir);
      const store = Store.open(path.join(dir, 'state'));
      const catalog = new BackupsRepo(store.db);
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
        const job = createBackupJob({
          config,
          store,
          events,
          logger: silentLogger,
          afterSuccess: async () => {
            pruned++;
          },
        });
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
    },
  );
});
