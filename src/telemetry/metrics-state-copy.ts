import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a state copy failed, as a bounded label: the object store's codes, else `other`. */
export const STATE_COPY_FAILURE_REASONS = [
  'RW_STORAGE_PRECONDITION',
  'RW_STORAGE_UNAVAILABLE',
  'RW_STORAGE_TIMEOUT',
  'RW_STORAGE_THROTTLED',
  'RW_STORAGE_DENIED',
  'RW_STORAGE_CREDENTIALS',
  'RW_STORE_SNAPSHOT',
  'other',
] as const;

const KNOWN: ReadonlySet<string> = new Set(STATE_COPY_FAILURE_REASONS);

/**
 * The shared state copy's metrics (composed into createMetrics): when the acting watcher last
 * copied its store to the bucket, how often copying failed, and restores from the bucket. They
 * stay 0 without `cluster`.
 */
export function stateCopyMetrics(registry: Registry) {
  const registers = [registry];
  const failures = new Counter({
    name: 'runwarden_state_copy_failures_total',
    help: 'Failed copies of the decision state to the cluster bucket, by reason (RW_STORAGE_PRECONDITION: another runwarden wrote it, copying stopped).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of STATE_COPY_FAILURE_REASONS) failures.inc({ reason }, 0);
  return {
    failures,
    lastCopy: new Gauge({
      name: 'runwarden_state_copy_last_timestamp_seconds',
      help: 'When this runwarden last copied its decision state to the cluster bucket, Unix seconds; 0 when never.',
      registers,
    }),
    copies: new Counter({
      name: 'runwarden_state_copies_total',
      help: 'Copies of the decision state written to the cluster bucket.',
      registers,
    }),
    restores: new Counter({
      name: 'runwarden_state_restores_total',
      help: 'Times the decision state was replaced by the copy in the cluster bucket (at start or on taking the lease).',
      registers,
    }),
    failed(code: string): void {
      failures.inc({ reason: KNOWN.has(code) ? code : 'other' });
    },
  };
}

export type StateCopyMetrics = ReturnType<typeof stateCopyMetrics>;
