import type { Job } from '../daemon/scheduler.js';
import { newestInBucket } from './bucket-newest.js';
import type { DaemonContext } from './daemon-context.js';
import type { OffsiteService } from './offsite-service.js';

/** How often the watcher lists the bucket for the newest archive. */
export const BUCKET_FRESHNESS_INTERVAL_MS = 60_000;

/**
 * The watch role's view of backups: it reads no database and cannot reach a sidecar's /metrics, so
 * each pass lists the bucket (the catalog of record) and exports when the newest archive was taken
 * (runwarden_bucket_newest_archive_*). A failed listing leaves the gauges as they were (the
 * scheduler logs it); `runwarden_bucket_last_listed_timestamp_seconds` then stops moving.
 */
export function bucketFreshnessJob(
  context: Pick<DaemonContext, 'config' | 'metrics'>,
  offsite: OffsiteService,
  now: () => number = Date.now,
): Job {
  return {
    name: 'bucket-freshness',
    async runOnce(signal) {
      const newest = await newestInBucket(await offsite.objectStore(), context.config.backup, signal);
      context.metrics.bucket.listedAt(now(), newest?.takenAt);
    },
  };
}
