import { z } from 'zod';
import { alertsSchema } from './schema/alerts.js';
import { backupSchema } from './schema/backup.js';
import { clusterSchema, roleSchema } from './schema/cluster.js';
import { logSchema, shutdownSchema } from './schema/daemon.js';
import { cloudRunSchema, idTokensSchema, monitoringSchema } from './schema/google-apis.js';
import { notifySchema } from './schema/notify.js';
import { serverSchema } from './schema/server.js';
import { stepWaitProblem } from './schema/release-timing.js';
import { servicesSchema } from './schema/services.js';
import { option } from './types.js';

/**
 * The one schema of runwarden's configuration: the single source of defaults, types, env names and
 * docs (the example file and the README reference are checked against it by a test).
 */
export const configSchema = z
  .strictObject({
    role: option(roleSchema, {
      description:
        'What this runwarden does: backup (backups, drills, restores; a sidecar beside the data), watch (deploy watch, guard, alert webhooks, traffic changes; outside the app), or all.',
    }),
    state_dir: option(z.string().min(1).default('./state'), {
      description: "Folder of runwarden's own state: its SQLite store and the daemon's lock.",
    }),
    server: serverSchema,
    shutdown: shutdownSchema,
    log: logSchema,
    backup: backupSchema,
    services: option(servicesSchema, { description: 'Cloud Run services whose deploys are watched.' }),
    cloud_run: cloudRunSchema,
    monitoring: monitoringSchema,
    id_tokens: idTokensSchema,
    notify: notifySchema,
    alerts: alertsSchema,
    cluster: option(clusterSchema.optional(), {
      description:
        'Several runwardens on one app: leases and shared state in Cloud Storage. Unset: this daemon is the only one and always acts.',
    }),
  })
  .superRefine((config, context) => {
    config.services.forEach((service, index) => {
      const problem = stepWaitProblem(service, config.monitoring.reporting_delay);
      if (problem)
        context.addIssue({
          code: 'custom',
          path: ['services', index, ...problem.path],
          message: problem.message,
        });
    });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
