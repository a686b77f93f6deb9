import type { Config } from '../config/schema.js';
import { serviceKey } from '../config/schema/services.js';
import type { WorkTracker } from '../daemon/work.js';
import { createWebhookAuthenticator } from '../http/auth.js';
import { InFlightLimit } from '../http/in-flight-limit.js';
import type { Route } from '../http/router.js';
import { alertRoutes } from '../alerts/alert-routes.js';
import { type BackupTrigger, backupRoute } from '../http/routes/backups.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { AlertMetrics } from '../telemetry/metrics-alerts.js';
import { AlertReceiver } from '../alerts/alert-receiver.js';
import type { AlertRollbackPort } from '../alerts/rollback-port.js';

export interface AlertEndpointsDeps {
  config: Pick<Config, 'alerts' | 'services'> & { server?: Pick<Config['server'], 'tls'> };
  store: Store;
  metrics: AlertMetrics;
  logger: Logger;
  work: WorkTracker;
  /** Without it (the backup role), the alert receivers are not served and no alert claim is touched. */
  rollback?: AlertRollbackPort;
  /** Without it (the watch role), `POST /v1/backups` is not served. */
  backups?: BackupTrigger;
  now?: () => number;
}

export interface AlertEndpoints {
  routes: Route[];
  /** Undefined when the alert receivers are not served (no `rollback`). */
  receiver: AlertReceiver | undefined;
  /** Webhook requests being handled now (an alert's from arrival until its rollback is done). */
  inFlight: () => number;
}

/**
 * Builds the authenticated webhook routes (alert receivers and the backup trigger) from the config.
 * Claims left pending by a process that died mid-rollback are released first, so a retry can act.
 */
export function createAlertEndpoints(deps: AlertEndpointsDeps): AlertEndpoints {
  const { config, logger } = deps;
  const auth = createWebhookAuthenticator(config.alerts, {
    clientCertificates: config.server?.tls?.client_ca_file !== undefined,
  });
  if (!auth.configured)
    logger.warn(
      'no webhook credentials configured (alerts.bearer_token, alerts.basic_username/basic_password, alerts.cloud_monitoring_token, server.tls.client_ca_file): the alert receivers and /v1/backups refuse every request',
    );
  const runWork = <T>(name: string, work: (signal: AbortSignal) => Promise<T>) => deps.work.run(name, work);
  const receiver = deps.rollback ? alertReceiver(deps, deps.rollback, runWork) : undefined;
  // One limit for every webhook route: together they may hold this many bodies in memory at once.
  const limit = new InFlightLimit(config.alerts.max_concurrent_requests);
  const guard = { auth, metrics: deps.metrics, logger, limit };
  const routes = receiver ? alertRoutes({ ...guard, receiver }) : [];
  if (deps.backups) routes.push(backupRoute({ ...guard, backups: deps.backups, runWork }));
  return { routes, receiver, inFlight: () => limit.active };
}

/** The alert receiver; claims left pending by a process that died mid-rollback are released first. */
function alertReceiver(
  deps: AlertEndpointsDeps,
  rollback: AlertRollbackPort,
  runWork: <T>(name: string, work: (signal: AbortSignal) => Promise<T>) => Promise<T>,
): AlertReceiver {
  const { config, logger } = deps;
  const repo = deps.store.alerts;
  const watches = deps.store.watches;
  const released = repo.releasePending();
  if (released > 0) logger.warn({ released }, 'released alert claims left pending by a previous run');
  const rules = (serviceLabel: string) => ({
    serviceLabel,
    actionLabel: config.alerts.action_label,
    actionValue: config.alerts.action_value,
  });
  return new AlertReceiver({
    services: config.services.map((service) => ({
      key: serviceKey(service),
      service: service.service,
      project: service.project,
      region: service.region,
      cooldownMs: service.cooldown,
      dryRun: service.mode === 'dry-run',
    })),
    rules: {
      alertmanager: rules(config.alerts.service_label),
      cloud_monitoring: rules(config.alerts.cloud_monitoring_service_label),
    },
    dedupeWindowMs: config.alerts.dedupe_window,
    watchedSince: (service) => watches.open(service)?.startedAt,
    dryRun: config.alerts.dry_run,
    repo,
    rollback,
    metrics: deps.metrics,
    logger,
    runWork,
    now: deps.now,
  });
}
