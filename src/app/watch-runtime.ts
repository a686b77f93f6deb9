import { GrpcCloudRun } from '../cloudrun/grpc-cloud-run.js';
import type { Config } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { EventBus } from '../events/event-bus.js';
import { type Leadership, soleLeadership } from '../lease/leadership.js';
import { CloudMonitoring } from '../signals/cloud-monitoring.js';
import { probeKeepAliveMs, UndiciHealthProber } from '../signals/health-probe.js';
import { UndiciSmokeChecker } from '../signals/smoke-check.js';
import { GoogleIdTokenSource } from '../signals/id-token.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { WatchMetrics } from '../telemetry/metrics-watch.js';
import { SharedSchemaInspector } from '../watch/app-schema.js';
import { appSchemaInspector } from './app-schema-inspector.js';
import { LiveState } from '../watch/live-state.js';
import { RegionPolls } from '../watch/region-polls.js';
import type { SchemaInspector } from '../watch/ports.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import { watchedService } from '../watch/watched-service.js';
import type { BackupService } from './backup-service.js';
import { preDeployBackup } from './pre-deploy-backup.js';

export interface BuildRuntimeOptions {
  config: Config;
  store: Store;
  events: EventBus;
  logger: Logger;
  metrics: WatchMetrics;
  /** "daemon:<pid>" or "cli:<pid>": who holds the action lease while acting. */
  owner: string;
  /** The pre-deploy backup runs through it. */
  backups: BackupService;
  background: WatchRuntime['background'];
  clock?: Clock;
  /** The `watch` lease; the sole leadership (always acts) by default. */
  leadership?: Leadership;
  /**
   * What the schema comparison reads (App.schemaInspector: the files, or in the watch role the
   * bucket's newest manifest); null: none is compared. Absent: the configured database files.
   */
  schema?: SchemaInspector | null;
}

/**
 * Builds the deploy watch's runtime from the configuration: the real Cloud Run and Cloud Monitoring
 * clients (endpoints overridable for the emulator), the undici prober, the backup service as the
 * pre-deploy backup and the main database as the schema to compare. `close()` closes the clients
 * and the probes' connections.
 * The app builds it once (createApp's `watch()`); tests build it around the emulator.
 */
export function buildWatchRuntime(options: BuildRuntimeOptions): {
  runtime: WatchRuntime;
  close(): Promise<void>;
} {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const cloudRun = new GrpcCloudRun(config.cloud_run);
  const metricSource = new CloudMonitoring(
    config.monitoring,
    config.cloud_run.retry_deadline,
    config.cloud_run.call_timeout,
  );
  // Probe connections are kept across intervals (see probeKeepAliveMs): the longest interval
  // configured bounds how long one sits idle between two probes of its origin.
  const prober = new UndiciHealthProber(
    clock,
    probeKeepAliveMs(Math.max(0, ...config.services.map((service) => service.probe_interval))),
  );
  const metrics = options.metrics;
  const regions = new RegionPolls(cloudRun, clock, {
    throttled(location, untilMs, error) {
      metrics.cloudRunThrottles.inc(location);
      metrics.cloudRunResting.set(location, untilMs / 1000);
      logger.warn(
        { ...location, until: new Date(untilMs).toISOString(), err: error.message },
        'Cloud Run refused the poll for quota; backing off (watches go on with the last poll)',
      );
    },
    listDenied(location, error) {
      logger.warn(
        { ...location, err: error.message },
        'Cloud Run refused ListServices (run.services.list); reading each service alone instead, one read per service per poll',
      );
    },
    recovered(location) {
      metrics.cloudRunResting.set(location, 0);
      logger.info(location, 'Cloud Run answers the poll again after a quota refusal');
    },
  });
  const shortestPoll =
    config.services.length > 0
      ? Math.min(...config.services.map((service) => service.poll_interval))
      : 15_000;
  const sharedSchema = (inner: SchemaInspector | null) =>
    inner && new SharedSchemaInspector(inner, clock, shortestPoll);
  const runtime: WatchRuntime = {
    services: config.services.map(watchedService),
    store: options.store,
    cloudRun,
    metricSource,
    prober,
    smoke: new UndiciSmokeChecker(),
    // Built only when some service probes with an ID token; the library loads on its first token.
    idTokens: config.services.some((service) => service.probe_auth === 'id_token')
      ? new GoogleIdTokenSource({
          iamEndpoint: config.id_tokens.iam_endpoint,
          timeoutMs: config.id_tokens.timeout,
          projectId: config.services.find((service) => service.probe_auth === 'id_token')?.project,
          clock,
        })
      : null,
    // The watch role reads no database: no pre-deploy backup here (the backup sidecar's start-up
    // gate takes it), and the schema comes from the newest archive's manifest in the bucket.
    backup: config.role === 'watch' ? null : preDeployBackup(options.backups, logger),
    // The main and every tenant database (or the bucket's newest manifest), read once per tick for
    // all services (the shortest poll).
    schema: sharedSchema(options.schema === undefined ? appSchemaInspector(config) : options.schema),
    events: options.events,
    logger,
    metrics: options.metrics,
    clock,
    windows: {
      alignmentMs: config.monitoring.alignment_period,
      reportingDelayMs: config.monitoring.reporting_delay,
    },
    operationTimeoutMs: config.cloud_run.operation_timeout,
    owner: options.owner,
    live: new LiveState(),
    leadership: options.leadership ?? soleLeadership('watch'),
    regions,
    background: options.background,
  };
  return {
    runtime,
    close: async () => {
      await Promise.allSettled([cloudRun.close(), metricSource.close(), prober.close()]);
    },
  };
}
