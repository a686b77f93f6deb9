import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { BEARER, post, TOKEN } from './helpers/alerts-harness.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { useCleanups, useTempDir } from './helpers/temp.js';

// The backup gauges the alert rules read must say the truth after a restart: a daemon restarted
// every day (a Cloud Run instance, a VM's updates) would otherwise show a last success of 0, which
// RunwardenBackupStale ignores, and hide a backup that stopped working.

const tempDir = useTempDir('runwarden-daemon-backup-metrics-');
const cleanups = useCleanups();

function configFor(dir: string): Config {
  makeDataDir(dir);
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: path.join(dir, 'data') } },
    alerts: { bearer_token: TOKEN },
  });
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

async function scrape(daemon: RunningDaemon, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('backup metrics across a restart', () => {
  it('seed the last success, its size and the archives kept from the catalog', async () => {
    const config = configFor(tempDir());
    const first = await start(config);
    const response = await post(`http://${first.address}`, '/v1/backups', { reason: 'manual' }, BEARER);
    expect(response.status).toBe(201);
    const backup = response.body.backup as { file: string; size: number; finished_at: string };
    await first.stop('restart');

    const second = await start(config);
    expect(await scrape(second, 'runwarden_backup_last_success_timestamp_seconds')).toBe(
      Date.parse(backup.finished_at) / 1000,
    );
    expect(await scrape(second, 'runwarden_backup_last_size_bytes')).toBe(backup.size);
    expect(await scrape(second, 'runwarden_backups_retained')).toBe(1);
  });

  it('stay at 0 with an empty catalog, so RunwardenBackupNeverSucceeded can count from the start', async () => {
    const daemon = await start(configFor(tempDir()));
    expect(await scrape(daemon, 'runwarden_backup_last_success_timestamp_seconds')).toBe(0);
    expect(await scrape(daemon, 'runwarden_backup_last_size_bytes')).toBe(0);
  });
});
