import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../events/event-bus.js';

/**
 * The backup job's metrics, composed into createMetrics. All are fed from events (`observeBackups`):
 * runs, duration, size and snapshot restarts from backup:completed/failed, `retained` and `pruned`
 * from backups:pruned (a dry run moves neither).
 */
export function backupMetrics(registry: Registry) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'runwarden_backup_runs_total',
      help: 'Backup runs by result (completed, failed).',
      labelNames: ['result'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'runwarden_backup_duration_seconds',
      help: 'How long backup runs took, lock wait and verification included.',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'runwarden_backup_last_success_timestamp_seconds',
      help: 'When the last successful backup finished (Unix seconds); alert when it grows old.',
      registers,
    }),
    lastSize: new Gauge({
      name: 'runwarden_backup_last_size_bytes',
      help: 'Size of the last successful backup archive.',
      registers,
    }),
    dirFreeBytes: new Gauge({
      name: 'runwarden_backup_dir_free_bytes',
      help: "Bytes runwarden may still write on backup.dir's file system (what statfs says is available to it), refreshed each minute and after each backup; 0 until first measured.",
      registers,
    }),
    snapshotRestarts: new Counter({
      name: 'runwarden_backup_snapshot_restarts_total',
      help: 'Times a database snapshot restarted because its source changed underneath the copy.',
      registers,
    }),
    bytesWritten: new Counter({
      name: 'runwarden_backup_bytes_written_total',
      help: 'Archive bytes written by successful backups, by compression method (deflate, store).',
      labelNames: ['method'] as const,
      registers,
    }),
    retained: new Gauge({
      name: 'runwarden_backups_retained',
      help: 'Backups kept after the last prune.',
      registers,
    }),
    pruned: new Counter({
      name: 'runwarden_backup_pruned_total',
      help: 'Backups deleted by retention.',
      registers,
    }),
  };
}

export type BackupMetrics = ReturnType<typeof backupMetrics>;

/** Feeds backup events into `metrics`; returns a function that stops listening. */
export function observeBackups(events: EventBus, metrics: BackupMetrics): () => void {
  const offCompleted = events.on('backup:completed', (event) => {
    metrics.runs.inc({ result: 'completed' });
    metrics.duration.observe(event.durationMs / 1000);
    metrics.lastSuccess.set(event.finishedAt / 1000);
    metrics.lastSize.set(event.size);
    metrics.snapshotRestarts.inc(event.snapshotRestarts);
    for (const [method, bytes] of Object.entries(event.bytesByMethod))
      metrics.bytesWritten.inc({ method }, bytes);
  });
  const offFailed = events.on('backup:failed', (event) => {
    metrics.runs.inc({ result: 'failed' });
    metrics.duration.observe(event.durationMs / 1000);
    metrics.snapshotRestarts.inc(event.snapshotRestarts);
  });
  const offPruned = events.on('backups:pruned', (event) => {
    if (event.dryRun) return;
    metrics.retained.set(event.retained);
    metrics.pruned.inc(event.deleted.length);
  });
  return () => {
    offCompleted();
    offFailed();
    offPruned();
  };
}
