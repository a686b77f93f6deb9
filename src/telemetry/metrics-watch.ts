import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../events/event-bus.js';

/**
 * The deploy watch's metrics, composed into createMetrics. Probe and rule values are set by the
 * watch job; rollback and promotion counters are fed from events (`observeWatch`), so a rollback
 * asked for by the CLI or an alert counts the same way as one asked for by a watch.
 */
export function watchMetrics(registry: Registry) {
  const registers = [registry];
  return {
    probeDuration: new Histogram({
      name: 'runwarden_probe_duration_seconds',
      help: 'Health probe durations by service and target (service URL or candidate tag URL).',
      labelNames: ['service', 'target'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    probeFailures: new Counter({
      name: 'runwarden_probe_failures_total',
      help: 'Health probes that failed (non-2xx, timeout, connection error) by service and target.',
      labelNames: ['service', 'target'] as const,
      registers,
    }),
    activeWatches: new Gauge({
      name: 'runwarden_watches_active',
      help: '1 while a candidate revision of the service is being watched, else 0.',
      labelNames: ['service'] as const,
      registers,
    }),
    ruleValue: new Gauge({
      name: 'runwarden_rule_value',
      help: 'The last value each rule measured on the candidate (count, ratio, utilization or failures in a row).',
      labelNames: ['service', 'rule'] as const,
      registers,
    }),
    ruleThreshold: new Gauge({
      name: 'runwarden_rule_threshold',
      help: 'The threshold each rule compares runwarden_rule_value with (a trip is a value above it; health: reaching it).',
      labelNames: ['service', 'rule'] as const,
      registers,
    }),
    rollbacks: new Counter({
      name: 'runwarden_rollbacks_total',
      help: 'Rollbacks by service, trigger (watch, alert, manual, emergency) and result (completed, failed, refused, dry_run).',
      labelNames: ['service', 'trigger', 'result'] as const,
      registers,
    }),
    lastRollback: new Gauge({
      name: 'runwarden_last_rollback_timestamp_seconds',
      help: 'When the last completed rollback of the service finished (Unix seconds).',
      labelNames: ['service'] as const,
      registers,
    }),
    promotions: new Counter({
      name: 'runwarden_promotions_total',
      help: 'Candidate revisions promoted to last known good, by service and trigger (watch, manual).',
      labelNames: ['service', 'trigger'] as const,
      registers,
    }),
    ingestionLag: new Gauge({
      name: 'runwarden_metric_ingestion_lag_seconds',
      help: 'Age of the newest Cloud Monitoring point seen for the candidate when it was read (how far metrics lag).',
      labelNames: ['service'] as const,
      registers,
    }),
    cloudRunResting: new Gauge({
      name: 'runwarden_cloud_run_throttled_until_timestamp_seconds',
      help: 'While Cloud Run refuses reads of a project and region for quota (RESOURCE_EXHAUSTED): when the poll tries again (Unix seconds); 0 otherwise.',
      labelNames: ['project', 'region'] as const,
      registers,
    }),
    cloudRunThrottles: new Counter({
      name: 'runwarden_cloud_run_throttled_total',
      help: 'Polls of a project and region that Cloud Run refused for quota (RESOURCE_EXHAUSTED), after retries.',
      labelNames: ['project', 'region'] as const,
      registers,
    }),
  };
}

export type WatchMetrics = ReturnType<typeof watchMetrics>;

/** Feeds the rollback and promotion metrics from events; returns the unsubscribe function. */
export function observeWatch(events: EventBus, metrics: WatchMetrics): () => void {
  const offs = [
    events.on('rollback:completed', (event) => {
      metrics.rollbacks.inc({
        service: event.service,
        trigger: event.trigger,
        result: event.dryRun ? 'dry_run' : 'completed',
      });
      if (!event.dryRun) metrics.lastRollback.set({ service: event.service }, event.at / 1000);
    }),
    events.on('rollback:failed', (event) =>
      metrics.rollbacks.inc({ service: event.service, trigger: event.trigger, result: 'failed' }),
    ),
    events.on('rollback:refused', (event) =>
      metrics.rollbacks.inc({ service: event.service, trigger: event.trigger, result: 'refused' }),
    ),
    events.on('watch:promoted', (event) =>
      metrics.promotions.inc({ service: event.service, trigger: event.trigger }),
    ),
  ];
  return () => {
    for (const off of offs) off();
  };
}
