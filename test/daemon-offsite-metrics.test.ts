import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { BEARER, post, TOKEN } from './helpers/alerts-harness.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { plus, waitFor } from './helpers/wait.js';

// The off-site metrics as the daemon serves them, with the real @google-cloud/storage client copying
// to the playground's storage emulator after a backup taken through POST /v1/backups.

// A bucket name needs 3 characters, and a scenario at least one service.
const BUCKET = 'offsite-metrics';
const tempDir = useTempDir('runwarden-daemon-offsite-');
const cleanups = useCleanups();

async function playground(): Promise<Playground> {
  const started = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
  cleanups.push(() => started.stop());
  return started;
}

function configFor(dir: string, storage: Playground['storage']): Config {
  makeDataDir(dir);
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: {
      enabled: false,
      dir: path.join(dir, 'backups'),
      sources: { data_dir: path.join(dir, 'data') },
      offsite: { bucket: BUCKET, api_endpoint: storage.url, upload_timeout: '60s' },
    },
    alerts: { bearer_token: TOKEN },
  });
  // As loading a config file does: sources relative to data_dir.
  resolveBackupPaths(config.backup, dir);
  return config;
}

async function start(config: Config): Promise<RunningDaemon> {
  const daemon = await startDaemon(config, silentLogger);
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return daemon;
}

/** An unlabelled sample of the daemon's /metrics page, or undefined when it has none. */
async function scrape(daemon: RunningDaemon, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** The backup (the CLI's work backstop) and one copy bounded by upload_timeout. */
function copyDeadline(config: Config) {
  const offsite = config.backup.offsite as { upload_timeout: number };
  return plus(WORK_BACKSTOP, { ms: offsite.upload_timeout, basis: 'backup.offsite.upload_timeout' });
}

describe('off-site metrics in the daemon', () => {
  it('show the copy of a backup taken through POST /v1/backups confirmed, the backlog empty, and survive a restart', async () => {
    const { storage } = await playground();
    const config = configFor(tempDir(), storage);
    const daemon = await start(config);
    expect(await scrape(daemon, 'runwarden_offsite_last_confirmed_timestamp_seconds')).toBe(0);

    const copied = daemon.context.events.next('offsite:copied');
    const response = await post(`http://${daemon.address}`, '/v1/backups', { reason: 'pre-deploy' }, BEARER);
    expect(response.status).toBe(201);
    const backup = response.body.backup as { file: string; size: number };
    const copy = await copied;
    expect(copy.file).toBe(backup.file);

    const confirmed = await waitFor(
      async () => {
        const seconds = await scrape(daemon, 'runwarden_offsite_last_confirmed_timestamp_seconds');
        return seconds !== undefined && seconds > 0 ? seconds : undefined;
      },
      'the last confirmed copy on /metrics',
      copyDeadline(config),
    );
    expect(confirmed).toBe(copy.confirmedAt / 1000);
    expect(storage.objects(BUCKET).map((object) => object.name)).toEqual([
      copy.objectName.replace(`gs://${BUCKET}/`, ''),
    ]);
    // The pass that confirmed it announced what still waits: nothing.
    await waitFor(
      async () => ((await scrape(daemon, 'runwarden_offsite_backlog_archives')) === 0 ? true : undefined),
      'an empty backlog on /metrics',
      copyDeadline(config),
    );
    expect(await scrape(daemon, 'runwarden_offsite_backlog_bytes')).toBe(0);
    expect(await scrape(daemon, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toBe(0);
    expect(await scrape(daemon, 'runwarden_offsite_uploaded_bytes_total')).toBe(backup.size);
    expect(await scrape(daemon, 'runwarden_offsite_upload_duration_seconds_count')).toBe(1);
    // Measured after the backup, on the disk that holds it.
    await waitFor(
      async () => ((await scrape(daemon, 'runwarden_backup_dir_free_bytes')) ?? 0) > 0 || undefined,
      'the free space of backup.dir on /metrics',
      WORK_BACKSTOP,
    );

    // A restart keeps the last confirmed time: the new daemon reads it from its catalog.
    await daemon.stop('restart');
    const again = await start(config);
    expect(await scrape(again, 'runwarden_offsite_last_confirmed_timestamp_seconds')).toBe(confirmed);
    expect(await scrape(again, 'runwarden_offsite_backlog_archives')).toBe(0);
  });

  it('count a refused copy by its reason, and show the archive waiting from the time it was taken', async () => {
    const { storage } = await playground();
    const config = configFor(tempDir(), storage);
    // Every request to the bucket is refused: the uploader records the failure and keeps the archive.
    storage.injectFault({ operation: '*', bucket: BUCKET, status: 403, times: 1_000 });
    const daemon = await start(config);

    const failed = daemon.context.events.next('offsite:failed');
    const response = await post(`http://${daemon.address}`, '/v1/backups', { reason: 'pre-deploy' }, BEARER);
    expect(response.status).toBe(201);
    const backup = response.body.backup as { file: string; size: number; started_at: string };
    expect((await failed).code).toBe('RW_STORAGE_DENIED');

    await waitFor(
      async () => ((await scrape(daemon, 'runwarden_offsite_backlog_archives')) === 1 ? true : undefined),
      'a backlog of one on /metrics',
      copyDeadline(config),
    );
    expect(await scrape(daemon, 'runwarden_offsite_backlog_bytes')).toBe(backup.size);
    expect(await scrape(daemon, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toBe(
      Date.parse(backup.started_at) / 1000,
    );
    expect(await scrape(daemon, 'runwarden_offsite_last_confirmed_timestamp_seconds')).toBe(0);
    const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
    expect(text).toContain('runwarden_offsite_failures_total{reason="RW_STORAGE_DENIED"} 1');
    expect(storage.objects(BUCKET)).toEqual([]);

    // A restart shows the waiting archive at once, before its next attempt is due.
    await daemon.stop('restart');
    const again = await start(config);
    expect(await scrape(again, 'runwarden_offsite_backlog_archives')).toBe(1);
    expect(await scrape(again, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toBe(
      Date.parse(backup.started_at) / 1000,
    );
  });
});
