import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../events/event-bus.js';
import { OffsiteCode } from '../offsite/offsite-errors.js';

/**
 * The codes a failed copy can carry, as `reason` labels: the off-site codes, the object store's
 * and the uploader's catch-all. Anything else is counted as `other`, so a new code can never grow
 * the label set unbounded (add it here when it is worth its own series).
 */
export const OFFSITE_FAILURE_REASONS = [
  OffsiteCode.conflict,
  OffsiteCode.mismatch,
  OffsiteCode.localChanged,
  OffsiteCode.localIo,
  OffsiteCode.timeout,
  OffsiteCode.raced,
  'RW_OFFSITE_FAILED',
  'RW_STORAGE_UNAVAILABLE',
  'RW_STORAGE_TIMEOUT',
  'RW_STORAGE_THROTTLED',
  'RW_STORAGE_INTERRUPTED',
  'RW_STORAGE_PRECONDITION',
  'RW_STORAGE_NOT_FOUND',
  'RW_STORAGE_DENIED',
  'RW_STORAGE_CREDENTIALS',
  'RW_STORAGE_CORRUPT',
  'RW_STORAGE_INVALID',
  'RW_STORAGE_FAILED',
  'other',
] as const;

const KNOWN_REASONS: ReadonlySet<string> = new Set(OFFSITE_FAILURE_REASONS);

/** The label a failure's code is counted under. */
export function offsiteFailureReason(code: string): string {
  return KNOWN_REASONS.has(code) ? code : 'other';
}

/**
 * The off-site copies' metrics, composed into createMetrics and fed from events (`observeOffsite`).
 * Without off-site copies configured they stay 0; the daemon seeds the backlog and the last
 * confirmed time from the catalog at start, so a restart does not reset them.
 */
export function offsiteMetrics(registry: Registry) {
  const registers = [registry];
  const failures = new Counter({
    name: 'runwarden_offsite_failures_total',
    help: 'Failed attempts to copy an archive off-site, by reason (the error code; unknown codes count as other). The archive stays in the backlog.',
    labelNames: ['reason'] as const,
    registers,
  });
  // Every reason from the start: a first failure then shows in increase() and rate().
  for (const reason of OFFSITE_FAILURE_REASONS) failures.inc({ reason }, 0);
  const lastConfirmed = new Gauge({
    name: 'runwarden_offsite_last_confirmed_timestamp_seconds',
    help: 'When the newest off-site copy was confirmed (size and CRC32C read back from the bucket), Unix seconds; 0 when none ever was or off-site copies are off.',
    registers,
  });
  let newestConfirmedMs = 0;
  return {
    lastConfirmed,
    /**
     * A copy was confirmed at `ms` (an event, or the catalog at start). Copies run concurrently and
     * may confirm out of order: the gauge only moves forward.
     */
    confirmedAt(ms: number): void {
      if (ms <= newestConfirmedMs) return;
      newestConfirmedMs = ms;
      lastConfirmed.set(ms / 1000);
    },
    backlogArchives: new Gauge({
      name: 'runwarden_offsite_backlog_archives',
      help: 'Verified archives not yet confirmed off-site (waiting, uploading or failed and retried later).',
      registers,
    }),
    backlogBytes: new Gauge({
      name: 'runwarden_offsite_backlog_bytes',
      help: 'Bytes of the archives not yet confirmed off-site.',
      registers,
    }),
    oldestPending: new Gauge({
      name: 'runwarden_offsite_oldest_pending_timestamp_seconds',
      help: 'When the oldest archive not yet confirmed off-site was taken, Unix seconds; 0 when none is pending.',
      registers,
    }),
    uploadDuration: new Histogram({
      name: 'runwarden_offsite_upload_duration_seconds',
      help: 'How long confirmed copies took, upload and read-back included.',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    uploadedBytes: new Counter({
      name: 'runwarden_offsite_uploaded_bytes_total',
      help: 'Bytes of archives confirmed off-site, each archive counted once, when its copy is confirmed.',
      registers,
    }),
    failures,
    remoteRetained: new Gauge({
      name: 'runwarden_offsite_remote_objects_retained',
      help: 'Copies kept in the bucket after the last remote prune.',
      registers,
    }),
    remotePruned: new Counter({
      name: 'runwarden_offsite_remote_pruned_total',
      help: 'Copies deleted from the bucket by remote retention.',
      registers,
    }),
  };
}

export type OffsiteMetrics = ReturnType<typeof offsiteMetrics>;

/** Feeds off-site events into `metrics`; returns a function that stops listening. */
export function observeOffsite(events: EventBus, metrics: OffsiteMetrics): () => void {
  const offs = [
    events.on('offsite:copied', (event) => {
      metrics.confirmedAt(event.confirmedAt);
      metrics.uploadDuration.observe(event.durationMs / 1000);
      metrics.uploadedBytes.inc(event.size);
    }),
    events.on('offsite:failed', (event) => {
      metrics.failures.inc({ reason: offsiteFailureReason(event.code) });
    }),
    events.on('offsite:backlog', (event) => {
      metrics.backlogArchives.set(event.count);
      metrics.backlogBytes.set(event.bytes);
      metrics.oldestPending.set(event.oldestStartedAt === undefined ? 0 : event.oldestStartedAt / 1000);
    }),
    events.on('offsite:pruned', (event) => {
      if (event.dryRun) return;
      metrics.remoteRetained.set(event.retained);
      metrics.remotePruned.inc(event.deleted.length);
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
