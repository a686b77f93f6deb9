import { Gauge, type Registry } from 'prom-client';

/**
 * What the daemon's configuration checks look at: a backup source (main database, tenants, media)
 * missing or unreadable, a backup folder it cannot write, a service Cloud Run does not let it read.
 */
export const CONFIG_PROBLEM_KINDS = ['backup_source', 'backup_dir', 'service'] as const;
export type ConfigProblemKind = (typeof CONFIG_PROBLEM_KINDS)[number];

/** The configuration checks' gauge, composed into createMetrics; every kind is exported from the start. */
export function configMetrics(registry: Registry) {
  const problems = new Gauge({
    name: 'runwarden_config_problems',
    help: 'Problems the last configuration check found, by kind (backup_source, backup_dir, service); 0 is healthy. Checked at start and every hour.',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of CONFIG_PROBLEM_KINDS) problems.set({ kind }, 0);
  return { problems };
}

export type ConfigMetrics = ReturnType<typeof configMetrics>;
