import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { diskSpaceMeter } from '../src/app/backup-disk-space.js';
import { configSchema } from '../src/config/schema.js';
import { EventBus } from '../src/events/event-bus.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { observeOffsite } from '../src/telemetry/metrics-offsite.js';
import { silentLogger } from './helpers/backup.js';
import { skipSmallDisk, useSmallDisks } from './helpers/small-disk.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-metrics-offsite-');
const disks = useSmallDisks();

/** A fresh registry with every metric the daemon exports, off-site ones fed from `events`. */
function parts() {
  const metrics = createMetrics(new Registry());
  const events = new EventBus();
  const stop = observeOffsite(events, metrics.offsite);
  return { metrics, events, stop, text: () => metrics.registry.metrics() };
}

/** The sample lines of `name` (and its histogram series), as the exposition prints them. */
function lines(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

const T0 = Date.UTC(2026, 0, 10, 3, 0, 0);

describe('off-site metrics fed from events', () => {
  it('export 0 for everything before any event, with every failure reason present', async () => {
    const { text } = parts();
    const exposition = await text();
    expect(lines(exposition, 'runwarden_offsite_last_confirmed_timestamp_seconds')).toEqual([
      'runwarden_offsite_last_confirmed_timestamp_seconds 0',
    ]);
    expect(lines(exposition, 'runwarden_offsite_backlog_archives')).toEqual([
      'runwarden_offsite_backlog_archives 0',
    ]);
    expect(lines(exposition, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toEqual([
      'runwarden_offsite_oldest_pending_timestamp_seconds 0',
    ]);
    expect(exposition).toContain('runwarden_offsite_failures_total{reason="RW_STORAGE_UNAVAILABLE"} 0');
    expect(exposition).toContain('runwarden_offsite_failures_total{reason="other"} 0');
    expect(exposition).toContain('# HELP runwarden_offsite_oldest_pending_timestamp_seconds');
    expect(exposition).toMatch(/oldest_pending_timestamp_seconds When .*; 0 when none is pending\./);
  });

  it('turn copies, failures, backlogs and remote prunes into the exposition', async () => {
    const { events, text } = parts();
    events.emit('offsite:backlog', { count: 2, bytes: 3_000, oldestStartedAt: T0 });
    events.emit('offsite:failed', {
      file: '/b/a.zip',
      code: 'RW_STORAGE_UNAVAILABLE',
      error: 'bucket answered 503',
      attempts: 1,
      nextAttemptAt: T0 + 60_000,
      durationMs: 200,
    });
    // A code nobody listed is counted as `other`, never as a new label value.
    events.emit('offsite:failed', {
      file: '/b/a.zip',
      code: 'RW_SOMETHING_NEW',
      error: 'surprise',
      attempts: 2,
      nextAttemptAt: T0 + 120_000,
      durationMs: 10,
    });
    const copied = { objectName: 'runwarden/x.zip', generation: 1, outcome: 'uploaded' as const };
    events.emit('offsite:copied', {
      ...copied,
      file: '/b/a.zip',
      size: 1_000,
      durationMs: 2_500,
      confirmedAt: T0 + 600_000,
    });
    // Two copies confirmed out of order: the gauge keeps the newest.
    events.emit('offsite:copied', {
      ...copied,
      file: '/b/b.zip',
      size: 2_000,
      durationMs: 40_000,
      confirmedAt: T0 + 500_000,
    });
    events.emit('offsite:backlog', { count: 0, bytes: 0 });
    events.emit('offsite:pruned', { retained: 7, deleted: ['runwarden/old.zip'], dryRun: false });
    // A dry run moves nothing.
    events.emit('offsite:pruned', {
      retained: 1,
      deleted: ['runwarden/a.zip', 'runwarden/b.zip'],
      dryRun: true,
    });

    const exposition = await text();
    expect(lines(exposition, 'runwarden_offsite_last_confirmed_timestamp_seconds')).toEqual([
      `runwarden_offsite_last_confirmed_timestamp_seconds ${(T0 + 600_000) / 1000}`,
    ]);
    expect(lines(exposition, 'runwarden_offsite_backlog_archives')).toEqual([
      'runwarden_offsite_backlog_archives 0',
    ]);
    expect(lines(exposition, 'runwarden_offsite_backlog_bytes')).toEqual([
      'runwarden_offsite_backlog_bytes 0',
    ]);
    expect(lines(exposition, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toEqual([
      'runwarden_offsite_oldest_pending_timestamp_seconds 0',
    ]);
    expect(lines(exposition, 'runwarden_offsite_uploaded_bytes_total')).toEqual([
      'runwarden_offsite_uploaded_bytes_total 3000',
    ]);
    expect(lines(exposition, 'runwarden_offsite_upload_duration_seconds_count')).toEqual([
      'runwarden_offsite_upload_duration_seconds_count 2',
    ]);
    expect(lines(exposition, 'runwarden_offsite_upload_duration_seconds_sum')).toEqual([
      'runwarden_offsite_upload_duration_seconds_sum 42.5',
    ]);
    expect(exposition).toContain('runwarden_offsite_upload_duration_seconds_bucket{le="5"} 1');
    expect(exposition).toContain('runwarden_offsite_upload_duration_seconds_bucket{le="60"} 2');
    expect(exposition).toContain('runwarden_offsite_failures_total{reason="RW_STORAGE_UNAVAILABLE"} 1');
    expect(exposition).toContain('runwarden_offsite_failures_total{reason="other"} 1');
    expect(exposition).not.toContain('RW_SOMETHING_NEW');
    expect(lines(exposition, 'runwarden_offsite_remote_objects_retained')).toEqual([
      'runwarden_offsite_remote_objects_retained 7',
    ]);
    expect(lines(exposition, 'runwarden_offsite_remote_pruned_total')).toEqual([
      'runwarden_offsite_remote_pruned_total 1',
    ]);
  });

  it('show a pending backlog with its oldest archive, and stop following events once unsubscribed', async () => {
    const { events, text, stop } = parts();
    events.emit('offsite:backlog', { count: 3, bytes: 12_345, oldestStartedAt: T0 });
    stop();
    events.emit('offsite:backlog', { count: 0, bytes: 0 });
    const exposition = await text();
    expect(lines(exposition, 'runwarden_offsite_backlog_archives')).toEqual([
      'runwarden_offsite_backlog_archives 3',
    ]);
    expect(lines(exposition, 'runwarden_offsite_backlog_bytes')).toEqual([
      'runwarden_offsite_backlog_bytes 12345',
    ]);
    expect(lines(exposition, 'runwarden_offsite_oldest_pending_timestamp_seconds')).toEqual([
      `runwarden_offsite_oldest_pending_timestamp_seconds ${T0 / 1000}`,
    ]);
  });
});

describe.skipIf(skipSmallDisk)('free space of backup.dir', () => {
  it('is what the file system has left, measured again on each call; a missing folder keeps the last value', async () => {
    const dir = tempDir();
    const backups = path.join(dir, 'backups');
    disks.mount(backups, '2m');
    const metrics = createMetrics(new Registry());
    const config = configSchema.parse({ state_dir: path.join(dir, 'state'), backup: { dir: backups } });
    const measure = diskSpaceMeter({ config, logger: silentLogger, metrics });
    const free = async () =>
      lines(await metrics.registry.metrics(), 'runwarden_backup_dir_free_bytes').map((line) =>
        Number(line.split(' ')[1]),
      );

    expect(await free()).toEqual([0]);
    await measure();
    expect(await free()).toEqual([2 * 1024 * 1024]);
    writeFileSync(path.join(backups, 'archive.zip'), Buffer.alloc(1024 * 1024, 1));
    await measure();
    expect(await free()).toEqual([1024 * 1024]);

    const gone = configSchema.parse({
      state_dir: path.join(dir, 'state'),
      backup: { dir: path.join(dir, 'missing') },
    });
    await diskSpaceMeter({ config: gone, logger: silentLogger, metrics })();
    expect(await free()).toEqual([1024 * 1024]);
  });
});
