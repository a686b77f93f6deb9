import { GrpcCloudRun } from '../cloudrun/grpc-cloud-run.js';
import type { Config } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { EventBus } from '../events/event-bus.js';
import { CloudMonitoring } from '../signals/cloud-monitoring.js';
import { UndiciHealthProber } from '../signals/health-probe.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { WatchMetrics } from '../telemetry/metrics-watch.js';
import { SqliteSchemaInspector } from '../watch/app-schema.js';
import { RunBackupPreDeploy } from './pre-deploy-backup.js';
import { LiveState } from '../watch/live-state.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import { watchedService } from '../watch/watched-service.js';

export interface BuildRuntimeOptions {
  config: Config;
  store: Store;
  events: EventBus;
  logger: Logger;
  metrics: WatchMetrics;
  /** "daemon:<pid>" or "cli:<pid>": who holds the action lease while acting. */
  owner: string;
  clock?: Clock;
  background?: WatchRuntime['background'];
  /** Replaces adapters (tests use fakes of nothing but the wire; this is for a dry backup port etc.). */
  overrides?: Partial<Pick<WatchRuntime, 'backup' | 'schema' | 'prober'>>;
}

/**
 * Builds the deploy watch's runtime from the configuration: the real Cloud Run and Cloud Monitoring
 * clients (endpoints overridable for the emulator), the undici prober, the backup use-case as the
 * pre-deploy backup and the main database as the schema to compare. `close()` closes the clients.
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
  const runtime: WatchRuntime = {
    services: config.services.map(watchedService),
    store: options.store,
    cloudRun,
    metricSource,
    prober: options.overrides?.prober ?? new UndiciHealthProber(clock),
    backup:
      options.overrides?.backup !== undefined
        ? options.overrides.backup
        : new RunBackupPreDeploy({
            config: config.backup,
            store: options.store,
            events: options.events,
            logger,
          }),
    schema:
      options.overrides?.schema !== undefined
        ? options.overrides.schema
        : new SqliteSchemaInspector(config.backup.sources.main_db.path),
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
    background:
      options.background ??
      ((name, work) => {
        work(new AbortController().signal).catch((error: unknown) =>
          logger.error({ work: name, err: String(error) }, 'background work failed'),
        );
      }),
  };
  return {
    runtime,
    close: async () => {
      await Promise.allSettled([cloudRun.close(), metricSource.close()]);
    },
  };
}
