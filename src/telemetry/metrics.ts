import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { VERSION } from '../version.js';
import { createAlertMetrics } from './metrics-alerts.js';
import { backupMetrics } from './metrics-backup.js';
import { bucketMetrics } from './metrics-bucket.js';
import { configMetrics } from './metrics-config.js';
import { drillMetrics } from './metrics-drill.js';
import { leaseMetrics } from './metrics-lease.js';
import { offsiteMetrics } from './metrics-offsite.js';
import { stateCopyMetrics } from './metrics-state-copy.js';
import { watchMetrics } from './metrics-watch.js';

/**
 * The one recorder that owns every Prometheus metric runwarden exports. Each job's metrics are
 * declared here (or in a `metrics-<job>.ts` beside this file that this one composes), so names and
 * labels are reviewed in one place. Tests pass a fresh registry.
 */
export function createMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (the suffix is
  // for counters); their per-type twins without the suffix stay.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  const buildInfo = new Gauge({
    name: 'runwarden_build_info',
    help: 'Always 1; the labels say which runwarden and Node.js are running.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  });
  buildInfo.set({ version: VERSION, node: process.versions.node }, 1);
  // Set by the app from the config: alert rules about backups and drills skip the watch role.
  const roleInfo = new Gauge({
    name: 'runwarden_role_info',
    help: 'Always 1; the label says which jobs this runwarden runs: backup, watch or all.',
    labelNames: ['role'] as const,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: 'runwarden_store_errors_total',
    help: "Failures of runwarden's own SQLite store (disk full, I/O, corruption, read-only), by where they surfaced.",
    labelNames: ['where'] as const,
    registers: [registry],
  });
  const notifications = new Counter({
    name: 'runwarden_notifications_total',
    help: 'Notification deliveries by target and result (sent, failed after retries).',
    labelNames: ['target', 'result'] as const,
    registers: [registry],
  });
  return {
    registry,
    storeErrors,
    notifications,
    roleInfo,
    backup: backupMetrics(registry),
    drill: drillMetrics(registry),
    offsite: offsiteMetrics(registry),
    bucket: bucketMetrics(registry),
    alerts: createAlertMetrics(registry),
    watch: watchMetrics(registry),
    config: configMetrics(registry),
    lease: leaseMetrics(registry),
    stateCopy: stateCopyMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
