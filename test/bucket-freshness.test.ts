import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { archiveTime } from '../src/core/archive-time.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

// The watch role exports backup freshness from the bucket: a sidecar's /metrics is out of its
// reach. A backup sidecar fills the bucket; the watcher (no data, no sidecar access) reads it.

const BUCKET = 'freshness';
const tempDir = useTempDir('runwarden-freshness-');
const cleanups = useCleanups();

async function playground(): Promise<Playground> {
  const started = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
  cleanups.push(() => started.stop());
  return started;
}

function configFor(role: 'backup' | 'watch', storage: Playground['storage']): Config {
  const dir = tempDir();
  if (role === 'backup') makeDataDir(dir);
  const config = configSchema.parse({
    role,
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: {
      enabled: false,
      dir: path.join(dir, 'backups'),
      sources: { data_dir: path.join(dir, 'data') },
      offsite: { bucket: BUCKET, api_endpoint: storage.url, upload_timeout: '60s' },
    },
  });
  resolveBackupPaths(config.backup, dir);
  return config;
}

async function start(config: Config, revision?: string): Promise<RunningDaemon> {
  const daemon = await startDaemon(config, silentLogger, revision ? { revision } : {});
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return daemon;
}

async function scrape(daemon: RunningDaemon, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const listed = (daemon: RunningDaemon) =>
  waitFor(
    async () =>
      ((await scrape(daemon, 'runwarden_bucket_last_listed_timestamp_seconds')) ?? 0) > 0 || undefined,
    'the watcher to list the bucket',
    WORK_BACKSTOP,
  );

describe('backup freshness from the bucket (watch role)', () => {
  it('exports when the newest archive a sidecar copied was taken, and its age', async () => {
    const { storage } = await playground();
    const sidecarConfig = configFor('backup', storage);
    const sidecar = await start(sidecarConfig, 'shop-00001');
    await waitFor(
      async () => ((await fetch(`http://${sidecar.address}/startupz`)).status === 200 ? true : undefined),
      'the sidecar to back up and report started',
      WORK_BACKSTOP,
    );
    const [object] = storage.objects(BUCKET);
    const taken = archiveTime(
      object?.name as string,
      sidecarConfig.backup.prefix,
      sidecarConfig.backup.timezone,
    );

    const watcher = await start(configFor('watch', storage));
    await listed(watcher);
    expect(await scrape(watcher, 'runwarden_bucket_newest_archive_timestamp_seconds')).toBe(
      (taken as number) / 1000,
    );
    const age = (await scrape(watcher, 'runwarden_bucket_newest_archive_age_seconds')) as number;
    expect(Number.isFinite(age) && age >= 0).toBe(true);
    // The watcher took no backup and started no backup job.
    expect(watcher.context.store.backups.list()).toEqual([]);
    expect(watcher.context.scheduler.scheduledJobs).toContain('bucket-freshness');
    expect(watcher.context.scheduler.scheduledJobs).not.toContain('backup-disk-space');
  });

  it('an empty bucket: timestamp 0 and age NaN, so an alert on the timestamp fires', async () => {
    const { storage } = await playground();
    const watcher = await start(configFor('watch', storage));
    await listed(watcher);
    expect(await scrape(watcher, 'runwarden_bucket_newest_archive_timestamp_seconds')).toBe(0);
    expect(await scrape(watcher, 'runwarden_bucket_newest_archive_age_seconds')).toBeNaN();
  });
});
