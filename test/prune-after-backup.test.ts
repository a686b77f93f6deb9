import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { scheduledBackupJob } from '../src/app/backup-schedule.js';
import { createBackupService } from '../src/app/backup-service.js';
import { EventBus } from '../src/events/event-bus.js';
import { Store } from '../src/store/store.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { observeBackups } from '../src/telemetry/metrics-backup.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-prune-job-');

function daemonParts(retention: Record<string, unknown>) {
  const dir = tempDir();
  makeDataDir(dir);
  const config = backupConfigFor(dir, { retention });
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  const metrics = createMetrics(new Registry());
  const backups = createBackupService({ config, store: () => store, events, logger: silentLogger });
  const job = scheduledBackupJob(backups);
  // As the daemon does: the backup metrics, the prune ones included, are fed from events.
  observeBackups(events, metrics.backup);
  const archives = () => readdirSync(config.dir).filter((name) => name.endsWith('.zip'));
  return { dir, config, store, events, metrics, job, archives };
}

async function metricValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((each) => each.name === name);
  return metric?.values[0]?.value;
}

describe('the daemon prunes after each successful backup', () => {
  it('keeps what the policy keeps and updates the metrics', async () => {
    const { job, archives, store, metrics } = daemonParts({ keep_within: '0s', keep_last: 1 });
    const signal = new AbortController().signal;
    await job.runOnce(signal);
    expect(archives()).toHaveLength(1);
    await job.runOnce(signal);
    expect(archives()).toHaveLength(1); // the older one was pruned
    expect(store.backups.list().map((row) => path.basename(row.file))).toEqual(archives());
    expect(await metricValue(metrics.registry, 'runwarden_backups_retained')).toBe(1);
    expect(await metricValue(metrics.registry, 'runwarden_backup_pruned_total')).toBe(1);
    store.close();
  });

  it('a failed backup never prunes', async () => {
    const { job, archives, store, dir, events } = daemonParts({ keep_within: '0s', keep_last: 1 });
    const signal = new AbortController().signal;
    await job.runOnce(signal);
    const before = archives();
    let prunes = 0;
    events.on('backups:pruned', () => {
      prunes++;
    });
    rmSync(path.join(dir, 'data', 'db.sqlite3')); // a required source goes missing
    await expect(job.runOnce(signal)).rejects.toMatchObject({ code: 'RW_BACKUP_SOURCE_MISSING' });
    expect(archives()).toEqual(before);
    expect(prunes).toBe(0);
    store.close();
  });
});
