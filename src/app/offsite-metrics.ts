import type { BackupRecord } from '../store/backups-repo.js';
import type { OffsiteMetrics } from '../telemetry/metrics-offsite.js';
import type { OffsiteService } from './offsite-service.js';

/**
 * Sets the off-site gauges from the catalog at the daemon's start: the backlog a restart left
 * (through the uploader's own announcement, which observeOffsite takes) and when the newest copy
 * was confirmed. Without it a restart would show no backlog until the first pass ended (an hour
 * with a hung bucket) and a last confirmed time of 0, hiding a stale copy from the alert rules.
 */
export function seedOffsiteMetrics(
  offsite: OffsiteService,
  catalog: { list(): BackupRecord[] },
  metrics: OffsiteMetrics,
): void {
  offsite.uploader.announceBacklog();
  const confirmed = catalog
    .list()
    .map((record) => (record.offsite?.confirmedAt ? Date.parse(record.offsite.confirmedAt) : 0));
  const newest = Math.max(0, ...confirmed);
  if (newest > 0) metrics.confirmedAt(newest);
}
