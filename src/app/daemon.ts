import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { removeLeftovers } from '../backup/leftovers.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import { Scheduler } from '../daemon/scheduler.js';
import { healthRoutes, metricsRoute, type Readiness } from '../http/routes/health.js';
import type { Route } from '../http/router.js';
import { BACKUP_TRIGGER_PATH } from '../http/routes/backups.js';
import { HttpServer } from '../http/server.js';
import { acquirePidLock } from '../lock/pid-lock.js';
import { isStoreError } from '../store/store-errors.js';
import type { Logger } from '../telemetry/logger.js';
import { observeBackups } from '../telemetry/metrics-backup.js';
import { observeDrills } from '../telemetry/metrics-drill.js';
import { observeOffsite } from '../telemetry/metrics-offsite.js';
import { type App, createApp } from './app.js';
import { scheduleDiskSpace } from './backup-disk-space.js';
import { seedBackupMetrics } from './backup-metrics.js';
import { scheduledBackupJob } from './backup-schedule.js';
import { BUCKET_FRESHNESS_INTERVAL_MS, bucketFreshnessJob } from './bucket-freshness.js';
import { scheduleConfigChecks } from './config-check.js';
import type { DaemonContext, RunningDaemon } from './daemon-context.js';
import { seedOffsiteMetrics } from './offsite-metrics.js';
import type { OffsiteService } from './offsite-service.js';
import { startDeployWatch } from './deploy-watch.js';
import { roleOffRoutes, runsBackups, runsWatch } from './daemon-roles.js';
import { refuseUnsuitableMounts } from './mount-checks.js';
import { runStartupBackup, startupBackup } from './startup-backup.js';
import { scheduledDrillJob } from './restore-drill.js';
import { finishInterruptedRestore } from './restore-recovery.js';
import { type Leaderships, leaderOnly, leaderRoutes, tickOnTakeover } from './leadership.js';
import { daemonStateCopy } from './state-copy.js';
import { scheduleIdleCheckpoints } from './idle-checkpoints.js';

export const DAEMON_LOCK_FILE = 'daemon.lock';

type Closer = () => Promise<void> | void;

export interface DaemonOptions {
  /** The mount table read at start (tests feed a file); /proc/self/mountinfo by default. */
  mountinfo?: string;
  /** The Cloud Run revision this daemon runs in (K_REVISION): recorded with backups, read by /startupz. */
  revision?: string;
}

/**
 * The daemon: lock -> the app's store, metrics, events and notifier -> jobs -> HTTP server.
 * Nothing starts at import time; a failure part-way closes what was opened.
 */
export async function startDaemon(
  config: Config,
  logger: Logger,
  options: DaemonOptions = {},
): Promise<RunningDaemon> {
  // --- mounts: no lock, store or backup source on Cloud Storage FUSE (see mount-checks.ts) ---
  await refuseUnsuitableMounts(config, {
    backups: runsBackups(config.role),
    logger,
    ...(options.mountinfo ? { mountinfo: options.mountinfo } : {}),
  });
  mkdirSync(config.state_dir, { recursive: true });
  const lock = acquirePidLock(
    path.join(config.state_dir, DAEMON_LOCK_FILE),
    'a runwarden daemon for this state_dir',
    { folderName: 'state_dir', logger },
  );
  const closers: Closer[] = [() => lock.release()];
  try {
    // --- roles: what is off starts none of its jobs (see daemon-roles.ts) ---
    const backupRole = runsBackups(config.role);
    const watchRole = runsWatch(config.role);
    if (backupRole) {
      // A restore killed mid-swap is finished or undone first; the clean-up keeps what its journal
      // still names when it could not be.
      const keep = await finishInterruptedRestore(config, logger.child({ component: 'restore' }));
      await removeLeftovers(config.backup, logger.child({ component: 'backup' }), { keep });
    }
    const app = createApp({
      config,
      logger,
      owner: `daemon:${process.pid}`,
      ...(options.revision ? { revision: options.revision } : {}),
    });
    closers.unshift(() => app.close());
    const context = await daemonContext(app, logger);
    // --- leases (cluster only): this runwarden acts for a scope only while it holds its lease; a
    // standby polls and probes but sends nothing. Built here, taken below once every job that
    // waits on them is set up; released when the daemon closes ---
    const leaderships = await app.leaderships();
    // --- notifications: subscribe to events; deliveries never block the job that emitted ---
    await app.notifier();
    // --- backups: metrics fed by backup events (off-site ones too); the free space of backup.dir;
    // the scheduled backup, then retention ---
    seedBackupMetrics(context.store.backups, context.metrics.backup);
    closers.unshift(observeBackups(context.events, context.metrics.backup));
    closers.unshift(observeOffsite(context.events, context.metrics.offsite));
    if (backupRole) closers.unshift(scheduleDiskSpace(context));
    // --- off-site copies: the uploader's loop takes the backlog a restart left, then each new
    // archive; it stops as the daemon starts stopping (an upload cut short resumes next start).
    // The scheduled pass prunes the bucket after the local archives ---
    const offsite = backupRole ? await app.offsite() : undefined;
    if (backupRole && config.backup.enabled)
      context.scheduler.cron(
        config.backup.schedule,
        leaderOnly(leaderships.backup, scheduledBackupJob(app.backups, offsite), logger),
        config.backup.timezone,
      );
    // --- restore drills: the newest verified archive restored aside, checked and removed ---
    closers.unshift(observeDrills(context.events, context.metrics.drill));
    if (backupRole && config.backup.enabled && config.backup.drill.enabled)
      context.scheduler.cron(
        config.backup.drill.schedule,
        leaderOnly(leaderships.backup, scheduledDrillJob(app), logger),
        config.backup.timezone,
      );
    if (offsite) {
      seedOffsiteMetrics(offsite, context.store.backups, context.metrics.offsite);
      closers.unshift(runOffsiteUploads(context, offsite));
    }
    // --- start-up gate: /startupz answers 200 once this revision's data is backed up and copied
    // off-site (a Cloud Run startup probe the app container depends on; see startup-backup.ts) ---
    const startup = backupRole
      ? startupBackup({
          config: config.backup,
          revision: options.revision,
          backups: app.backups,
          offsite,
          catalog: () => context.store.backups,
          events: context.events,
          logger,
        })
      : undefined;
    if (startup) closers.unshift(runStartupBackup(startup, context));
    // --- backup freshness from the bucket: the watch role reads no database and cannot reach a
    // sidecar's /metrics, so it lists the catalog of record (see bucket-freshness.ts) ---
    const bucket = config.role === 'watch' ? await app.offsite() : undefined;
    if (bucket)
      context.scheduler.every(BUCKET_FRESHNESS_INTERVAL_MS, bucketFreshnessJob(context, bucket), true);
    // --- shared state: with `cluster`, the decision state is restored from the bucket before the
    // watch acts, then copied there after every change while this daemon leads ---
    const stateCopy = await daemonStateCopy(context, leaderships.watch);
    if (stateCopy) closers.unshift(stateCopy);
    // --- deploy watch: per-service watch and probe jobs; history and metrics from events ---
    // No service: no deploy watch, and so no Google client loaded (tens of MB of RSS).
    const deployWatch = watchRole && config.services.length > 0 ? await startDeployWatch(context) : undefined;
    if (deployWatch) {
      closers.unshift(deployWatch.close);
      // A new leader finishes what is owed (after the beforeActing hooks restored the shared state).
      closers.unshift(tickOnTakeover(leaderships.watch, context.scheduler, deployWatch.ticks));
    }
    // Leases are taken only now, once every beforeActing hook (the shared state's restore) and
    // takeover step is registered: a lease taken earlier would act without them.
    leaderships.start([
      ...(backupRole ? (['backup'] as const) : []),
      ...(watchRole ? (['watch'] as const) : []),
    ]);
    // --- alert receivers and backup trigger: authenticated POST routes; alerts roll back
    // through the deploy watch's one rollback path ---
    const webhooks = await app.alerts();
    // --- the state store's WAL checkpoints (two fsyncs): not inside whichever commit passes 1,000
    // pages, which may be an alert's claim just before its UpdateService, but from a timer while no
    // webhook request is being handled and no rollback runs ---
    closers.unshift(
      scheduleIdleCheckpoints({
        store: context.store,
        busy: () => webhooks.inFlight() > 0 || (deployWatch?.runtime.live.rollbacksRunning ?? 0) > 0,
        logger,
      }),
    );
    const server = new HttpServer({
      address: config.server.address,
      bodyLimitBytes: config.server.body_limit_bytes,
      requestTimeoutMs: config.server.request_timeout,
      tls: config.server.tls,
      trustProxy: config.server.trust_proxy,
      onError: (route, error) => countStoreError(context, `http:${route}`, error),
      routes: [
        metricsRoute(context.metrics.registry),
        ...healthRoutes({
          problems: () => readinessProblems(context),
          ...leaseReadiness(leaderships),
        }),
        ...webhookRoutes(webhooks.routes, leaderships, config.cluster?.lease_ttl ?? 0),
        ...roleOffRoutes(config.role),
        ...(startup ? [startup.route] : []),
      ],
      logger: logger.child({ component: 'http' }),
    });
    const address = await server.listen();
    closers.unshift(() => server.close());
    context.events.emit('daemon:ready', { address });
    scheduleConfigChecks(context, deployWatch?.runtime);
    logger.info({ address, state_dir: config.state_dir, role: config.role }, 'runwarden daemon ready');
    return {
      context,
      address,
      stop: stopOnce(context, closers),
      reload: (reason) => void server.reloadTls(reason),
    };
  } catch (error) {
    await closeAll(closers, logger);
    throw error;
  }
}

/** The store (opened now: a broken one fails the start), metrics, events and the scheduler. */
async function daemonContext(app: App, logger: Logger): Promise<DaemonContext> {
  const { config, store, events, work } = app;
  const metrics = await app.metrics();
  const context: DaemonContext = {
    app,
    config,
    logger,
    store,
    metrics,
    events,
    work,
    scheduler: new Scheduler(work, logger.child({ component: 'scheduler' }), (job, error) =>
      countStoreError(context, `job:${job}`, error),
    ),
  };
  // Store failures surface wherever the store is used: count them where they come out.
  events.onListenerError = (name, error) => {
    logger.error({ event: name, err: errorMessage(error) }, 'event listener failed');
    countStoreError(context, `event:${name}`, error);
  };
  events.on('watch:failure', (event) => countStoreError(context, `watch:${event.operation}`, event.error));
  events.on('backup:failed', (event) => countStoreError(context, 'backup', event));
  return context;
}

/** Starts the uploader's loop; returns the closer that stops it and waits for it. */
function runOffsiteUploads(context: DaemonContext, offsite: OffsiteService): Closer {
  const stop = new AbortController();
  const offStopping = context.events.on('daemon:stopping', () => stop.abort(new Error('daemon stopping')));
  const loop = offsite.uploader.run(stop.signal).catch((error: unknown) => {
    context.logger.error({ err: errorMessage(error) }, 'off-site uploads stopped');
  });
  return async () => {
    offStopping();
    stop.abort(new Error('daemon stopping'));
    await loop;
  };
}

function countStoreError(context: DaemonContext, where: string, error: unknown): void {
  if (isStoreError(error)) context.metrics.storeErrors.inc({ where });
}

/** Graceful stop, once: no new work, running work gets the grace period, then everything closes. */
function stopOnce(context: DaemonContext, closers: Closer[]): RunningDaemon['stop'] {
  const { config, logger, events, work, scheduler } = context;
  let stopping: Promise<{ aborted: string[] }> | undefined;
  return (reason) => {
    stopping ??= (async () => {
      events.emit('daemon:stopping', { signal: reason });
      logger.info({ reason, grace_ms: config.shutdown.grace_period, running: work.runningNames }, 'stopping');
      scheduler.stop();
      const aborted = await work.drain(config.shutdown.grace_period);
      if (aborted.length > 0)
        logger.warn({ aborted }, 'work did not finish within the grace period and was aborted');
      await closeAll(closers, logger);
      logger.info('stopped');
      return { aborted };
    })();
    return stopping;
  };
}

function readinessProblems(context: DaemonContext): string[] {
  const problems: string[] = [];
  if (!context.store.isOpen) problems.push('state store is closed');
  if (context.work.draining) problems.push('shutting down');
  return problems;
}

async function closeAll(closers: Closer[], logger: Logger): Promise<void> {
  for (const close of closers) {
    try {
      await close();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'close failed during shutdown');
    }
  }
}

/** Webhooks answered by the leader only: alerts by the `watch` one, the backup trigger by the `backup` one. */
function webhookRoutes(routes: Route[], leaderships: Leaderships, ttlMs: number): Route[] {
  if (!leaderships.clustered) return routes;
  return routes.flatMap((route) =>
    leaderRoutes([route], route.path === BACKUP_TRIGGER_PATH ? leaderships.backup : leaderships.watch, ttlMs),
  );
}

/** /readyz says which leases this runwarden holds; `?leader=<scope>` is ready only on that leader. */
function leaseReadiness(leaderships: Leaderships): Pick<Readiness, 'details' | 'isLeader'> {
  if (!leaderships.clustered) return {};
  return {
    details: () => ({
      leases: Object.fromEntries(
        leaderships
          .views()
          .map((view) => [
            view.scope,
            { leader: view.leader, holder: view.holder ?? null, since: view.since ?? null },
          ]),
      ),
    }),
    isLeader: (scope) =>
      scope === 'watch'
        ? leaderships.watch.mayAct()
        : scope === 'backup'
          ? leaderships.backup.mayAct()
          : undefined,
  };
}
