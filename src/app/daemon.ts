import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createBackupJob } from '../backup/backup-job.js';
import { removeLeftovers } from '../backup/leftovers.js';
import { pruneAfterBackup, pruneMetrics } from '../backup/prune-run.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import { EventBus } from '../events/event-bus.js';
import { healthRoutes, metricsRoute } from '../http/routes/health.js';
import type { Route } from '../http/router.js';
import { HttpServer } from '../http/server.js';
import { acquirePidLock, type PidLock } from '../lock/pid-lock.js';
import { scheduleConfigChecks } from './config-check.js';
import { Scheduler } from '../daemon/scheduler.js';
import { NotificationDispatcher } from '../notify/dispatcher.js';
import { notifyOnEvents, targetsFromConfig } from '../notify/from-events.js';
import { WorkTracker } from '../daemon/work.js';
import { isStoreError } from '../store/store-errors.js';
import { Store } from '../store/store.js';
import { startDeployWatch } from './deploy-watch.js';
import { createAlertEndpoints } from './webhooks.js';
import { watchRollbackAdapter } from './alert-rollback.js';
import { backupTriggerAdapter } from './backup-trigger.js';
import type { Logger } from '../telemetry/logger.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { observeBackups } from '../telemetry/metrics-backup.js';

export const DAEMON_LOCK_FILE = 'daemon.lock';

/** Everything the daemon's parts share; jobs and routes are built from it. */
export interface DaemonContext {
  config: Config;
  logger: Logger;
  store: Store;
  metrics: Metrics;
  events: EventBus;
  work: WorkTracker;
  scheduler: Scheduler;
}

export interface RunningDaemon {
  readonly context: DaemonContext;
  /** The bound "host:port" of the HTTP server. */
  readonly address: string;
  /** Graceful stop: no new work, running work gets the grace period, then everything closes. */
  stop(reason: string): Promise<{ aborted: string[] }>;
  /** SIGHUP: reads the TLS certificate files again (the only thing reloaded without a restart). */
  reload(reason: string): void;
}

/**
 * The composition root: lock -> store -> metrics and events -> jobs -> HTTP server. Nothing starts
 * at import time; a failure part-way closes what was opened.
 */
export async function startDaemon(config: Config, logger: Logger): Promise<RunningDaemon> {
  mkdirSync(config.state_dir, { recursive: true });
  const lock: PidLock = acquirePidLock(
    path.join(config.state_dir, DAEMON_LOCK_FILE),
    'a runwarden daemon for this state_dir',
    { folderName: 'state_dir', logger },
  );
  const closers: Array<() => Promise<void> | void> = [() => lock.release()];
  try {
    await removeLeftovers(config.backup, logger.child({ component: 'backup' }));
    const store = Store.open(config.state_dir);
    closers.unshift(() => store.close());
    const events = new EventBus();
    const metrics = createMetrics();
    // Store failures surface wherever the store is used: count them where they come out.
    const countStoreError = (where: string, error: unknown) => {
      if (isStoreError(error)) metrics.storeErrors.inc({ where });
    };
    events.onListenerError = (name, error) => {
      logger.error({ event: name, err: errorMessage(error) }, 'event listener failed');
      countStoreError(`event:${name}`, error);
    };
    events.on('watch:failure', (event) => countStoreError(`watch:${event.operation}`, event.error));
    events.on('backup:failed', (event) => countStoreError('backup', event));
    const work = new WorkTracker();
    const context: DaemonContext = {
      config,
      logger,
      store,
      metrics,
      events,
      work,
      scheduler: new Scheduler(work, logger.child({ component: 'scheduler' }), (job, error) =>
        countStoreError(`job:${job}`, error),
      ),
    };
    // --- notifications: subscribe to events; deliveries never block the job that emitted ---
    const notifier = new NotificationDispatcher(config.notify.targets, {
      logger: logger.child({ component: 'notify' }),
      onResult: (target, result) => context.metrics.notifications.inc({ target, result }),
    });
    const stopNotifying = notifyOnEvents(events, notifier, targetsFromConfig(config.services));
    closers.unshift(async () => {
      stopNotifying();
      await notifier.close();
    });
    // --- backups: metrics fed by backup events; the scheduled backup job ---
    closers.unshift(observeBackups(events, context.metrics.backup));
    if (config.backup.enabled) {
      const backupJob = createBackupJob({
        config: config.backup,
        store,
        events,
        logger: logger.child({ component: 'backup' }),
        // Retention runs after a successful backup only; a failed backup never prunes.
        afterSuccess: pruneAfterBackup({
          config: config.backup,
          store,
          events,
          logger: logger.child({ component: 'retention' }),
          metrics: pruneMetrics(context.metrics.backup),
        }),
      });
      context.scheduler.cron(config.backup.schedule, backupJob, config.backup.timezone);
    }
    // --- end backups ---
    // --- deploy watch: per-service watch and probe jobs; history and metrics from events ---
    const deployWatch = startDeployWatch(context);
    closers.unshift(deployWatch.close);
    // --- end deploy watch ---
    // --- alert receivers and backup trigger: authenticated POST routes; alerts roll back
    // through the deploy watch's one rollback path ---
    const webhooks = createAlertEndpoints({
      config,
      store,
      metrics: context.metrics.alerts,
      logger: logger.child({ component: 'alerts' }),
      work,
      rollback: watchRollbackAdapter(deployWatch.requestRollback),
      // Served whether or not scheduled backups run, like the CLI's `runwarden backup`.
      backups: backupTriggerAdapter({
        config: config.backup,
        store,
        events,
        logger: logger.child({ component: 'backup' }),
      }),
    });
    // --- end alert receivers ---
    const routes: Route[] = [
      metricsRoute(context.metrics.registry),
      ...healthRoutes({ problems: () => readinessProblems(context) }),
      ...webhooks.routes,
    ];
    const server = new HttpServer({
      address: config.server.address,
      bodyLimitBytes: config.server.body_limit_bytes,
      requestTimeoutMs: config.server.request_timeout,
      tls: config.server.tls,
      trustProxy: config.server.trust_proxy,
      onError: (route, error) => countStoreError(`http:${route}`, error),
      routes,
      logger: logger.child({ component: 'http' }),
    });
    const address = await server.listen();
    closers.unshift(() => server.close());
    events.emit('daemon:ready', { address });
    scheduleConfigChecks(context, deployWatch.runtime);
    logger.info({ address, state_dir: config.state_dir }, 'runwarden daemon ready');

    let stopping: Promise<{ aborted: string[] }> | undefined;
    const stop = (reason: string) => {
      stopping ??= (async () => {
        events.emit('daemon:stopping', { signal: reason });
        logger.info(
          { reason, grace_ms: config.shutdown.grace_period, running: work.runningNames },
          'stopping',
        );
        context.scheduler.stop();
        const aborted = await work.drain(config.shutdown.grace_period);
        if (aborted.length > 0)
          logger.warn({ aborted }, 'work did not finish within the grace period and was aborted');
        await closeAll(closers, logger);
        logger.info('stopped');
        return { aborted };
      })();
      return stopping;
    };
    return { context, address, stop, reload: (reason) => void server.reloadTls(reason) };
  } catch (error) {
    await closeAll(closers, logger);
    throw error;
  }
}

function readinessProblems(context: DaemonContext): string[] {
  const problems: string[] = [];
  if (!context.store.isOpen) problems.push('state store is closed');
  if (context.work.draining) problems.push('shutting down');
  return problems;
}

async function closeAll(closers: Array<() => Promise<void> | void>, logger: Logger): Promise<void> {
  for (const close of closers) {
    try {
      await close();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'close failed during shutdown');
    }
  }
}
