import { Gauge, type Registry } from 'prom-client';

/**
 * Backup freshness as the bucket (the catalog of record) shows it, exported by the watcher: it
 * cannot reach a backup sidecar's own /metrics (only a Cloud Run service's ingress container
 * receives requests), so it lists the bucket instead. Composed into createMetrics.
 */
export function bucketMetrics(registry: Registry, now: () => number = Date.now) {
  let newestMs: number | undefined;
  const newest = new Gauge({
    name: 'runwarden_bucket_newest_archive_timestamp_seconds',
    help: 'When the newest archive in the off-site bucket was taken (from its name), Unix seconds; 0 when the bucket holds none or was never listed. Exported by the watch role.',
    registers: [registry],
  });
  new Gauge({
    name: 'runwarden_bucket_newest_archive_age_seconds',
    help: 'Seconds since the newest archive in the off-site bucket was taken, at scrape time; NaN until one is known. Exported by the watch role.',
    registers: [registry],
    collect() {
      this.set(newestMs === undefined ? Number.NaN : Math.max(0, (now() - newestMs) / 1000));
    },
  });
  const listed = new Gauge({
    name: 'runwarden_bucket_last_listed_timestamp_seconds',
    help: 'When the watcher last listed the off-site bucket successfully, Unix seconds; 0 before the first listing.',
    registers: [registry],
  });
  return {
    /** A listing succeeded at `atMs`; `takenMs` is the newest archive's time, undefined when none. */
    listedAt(atMs: number, takenMs: number | undefined): void {
      listed.set(atMs / 1000);
      newestMs = takenMs;
      newest.set(takenMs === undefined ? 0 : takenMs / 1000);
    },
  };
}

export type BucketMetrics = ReturnType<typeof bucketMetrics>;
