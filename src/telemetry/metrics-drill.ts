import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventBus } from '../events/event-bus.js';

/** The restore drill's metrics, composed into createMetrics and fed from drill events (observeDrills). */
export function drillMetrics(registry: Registry) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'runwarden_drill_runs_total',
      help: 'Restore drills by result (completed, failed).',
      labelNames: ['result'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'runwarden_drill_duration_seconds',
      help: 'How long restore drills took: restoring the newest archive aside, checking it, removing it.',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'runwarden_drill_last_success_timestamp_seconds',
      help: 'When the last successful restore drill finished (Unix seconds); 0 until one succeeds in this process.',
      registers,
    }),
    // With lastSuccess it says whether the LAST drill failed (a failure newer than the success).
    lastFailure: new Gauge({
      name: 'runwarden_drill_last_failure_timestamp_seconds',
      help: 'When the last failed restore drill ended (Unix seconds); 0 until one fails in this process.',
      registers,
    }),
  };
}

export type DrillMetrics = ReturnType<typeof drillMetrics>;

/** Feeds drill events into `metrics`; returns a function that stops listening. */
export function observeDrills(events: EventBus, metrics: DrillMetrics): () => void {
  const offCompleted = events.on('drill:completed', (event) => {
    metrics.runs.inc({ result: 'completed' });
    metrics.duration.observe(event.durationMs / 1000);
    metrics.lastSuccess.set(event.finishedAt / 1000);
  });
  const offFailed = events.on('drill:failed', (event) => {
    metrics.runs.inc({ result: 'failed' });
    metrics.duration.observe(event.durationMs / 1000);
    metrics.lastFailure.set(event.finishedAt / 1000);
  });
  return () => {
    offCompleted();
    offFailed();
  };
}
