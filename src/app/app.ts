import type { Config } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { errorMessage, FatalError } from '../core/errors.js';
import { WorkTracker } from '../daemon/work.js';
import { EventBus } from '../events/event-bus.js';
import type { NotificationDispatcher } from '../notify/dispatcher.js';
import { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { bucketStoreOptions } from '../storage/client-options.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import type { SchemaInspector } from '../watch/ports.js';
import { type BackupService, createBackupService } from './backup-service.js';
import { runsBackups, runsWatch } from './daemon-roles.js';
import type { Leaderships } from './leadership.js';
import type { OffsiteService } from './offsite-service.js';
import type { AlertEndpoints } from './webhooks.js';

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** Who holds a service's action lease while this process acts: "daemon:<pid>" or "cli:<pid>". */
  owner: string;
  /**
   * `write` (the default) opens the store, creating the state folder and file if needed. `read`
   * opens it only if it exists and otherwise reads an empty one in memory: it creates nothing.
   */
  storeAccess?: 'write' | 'read';
  clock?: Clock;
  /** The Cloud Run revision this process runs in (K_REVISION), recorded with each backup. */
  revision?: string;
}

/**
 * Everything runwarden is made of, built once and only when first asked for: the daemon, every CLI
 * command and the demo take what they touch from here, so `runwarden backup` never loads the
 * Google clients and `status` never opens a network client. Parts whose modules are heavy (the
 * Google clients, undici, prom-client) come from async methods that load them on first call.
 */
export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The state store: opened on first use (see AppOptions.storeAccess), closed by `close`. */
  readonly store: Store;
  /** false when a `read` app found no store in state_dir (it reads an empty one). */
  readonly storeExists: boolean;
  /** This process's events: jobs emit them; history, notifications and metrics subscribe. */
  readonly events: EventBus;
  /** Work that shutdown waits for (the daemon drains it); background work of the watch runs here. */
  readonly work: WorkTracker;
  /** The backup use-case: runs, prunes. */
  readonly backups: BackupService;
  /**
   * Off-site copies in the configured bucket, or undefined when `backup.offsite` is not set. The
   * storage client loads only when the bucket is first used.
   */
  offsite(): Promise<OffsiteService | undefined>;
  /**
   * The bucket and prefix of `cluster` (leases, the shared state), or undefined when it is not set:
   * this daemon is then the only one. The storage client loads on the first call.
   */
  clusterStore(): Promise<ObjectStore | undefined>;
  /**
   * What the schema comparison reads: the main and tenant database files, or in the watch role
   * (which cannot open them) the newest archive's manifest in the bucket; null when that role has
   * no bucket it can read (logged).
   */
  schemaInspector(): Promise<SchemaInspector | null>;
  /**
   * The `watch` and `backup` leases (see app/leadership.ts): the sole leadership without `cluster`;
   * with it, leases in the cluster bucket that only the daemon starts. Closed (released) by `close`.
   */
  leaderships(): Promise<Leaderships>;
  /** Every Prometheus metric, on a registry of its own (the daemon serves it). */
  metrics(): Promise<Metrics>;
  /** Notifications of this process's events to the configured targets; subscribed on first call. */
  notifier(): Promise<NotificationDispatcher>;
  /**
   * The deploy watch's runtime (Cloud Run, Cloud Monitoring, the prober, the pre-deploy backup),
   * its events recorded in the audit history. The only part that loads the Google clients; a
   * client still starts Google auth only at its first call.
   */
  watch(): Promise<WatchRuntime>;
  /** The webhook routes (alert receivers, `POST /v1/backups`); alerts roll back through the watch. */
  alerts(): Promise<AlertEndpoints>;
  /** Closes what was opened, newest first; a failure is logged and the rest still close. Idempotent. */
  close(): Promise<void>;
}

export function createApp(options: AppOptions): App {
  return new LazyApp(options);
}

class LazyApp implements App {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly #options: AppOptions;
  readonly #closers: Array<() => Promise<void> | void> = [];
  #closed = false;
  #store: { store: Store; exists: boolean } | undefined;
  #events: EventBus | undefined;
  #work: WorkTracker | undefined;
  #backups: BackupService | undefined;
  #metrics: Promise<Metrics> | undefined;
  #notifier: Promise<NotificationDispatcher> | undefined;
  #watch: Promise<WatchRuntime> | undefined;
  #schema: Promise<SchemaInspector | null> | undefined;
  #alerts: Promise<AlertEndpoints> | undefined;
  #offsite: Promise<OffsiteService | undefined> | undefined;
  #offsiteBuilt: OffsiteService | undefined;
  #clusterStore: Promise<ObjectStore | undefined> | undefined;
  #leaderships: Promise<Leaderships> | undefined;

  constructor(options: AppOptions) {
    this.#options = options;
    this.config = options.config;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
  }

  get store(): Store {
    return this.#openStore().store;
  }

  get storeExists(): boolean {
    return this.#openStore().exists;
  }

  get events(): EventBus {
    if (!this.#events) {
      const events = new EventBus();
      events.onListenerError = (name, error) =>
        this.logger.error({ event: name, err: errorMessage(error) }, 'event listener failed');
      this.#events = events;
    }
    return this.#events;
  }

  get work(): WorkTracker {
    this.#work ??= new WorkTracker();
    return this.#work;
  }

  get backups(): BackupService {
    this.#backups ??= createBackupService({
      config: this.config.backup,
      store: () => this.store,
      events: this.events,
      logger: this.logger,
      ...(this.#options.revision ? { revision: this.#options.revision } : {}),
      // A new archive is copied off-site by the uploader's loop (the daemon's), if it runs.
      onBackedUp: () => this.#offsiteBuilt?.uploader.kick(),
    });
    return this.#backups;
  }

  offsite(): Promise<OffsiteService | undefined> {
    this.#offsite ??= this.#build(async () => {
      const { createOffsiteService, withOffsite } = await import('./offsite-service.js');
      const config = withOffsite(this.config.backup);
      if (!config) return undefined;
      this.#offsiteBuilt = createOffsiteService({
        config,
        store: () => this.store,
        events: this.events,
        logger: this.logger,
        clock: this.clock,
      });
      return this.#offsiteBuilt;
    });
    return this.#offsite;
  }

  clusterStore(): Promise<ObjectStore | undefined> {
    this.#clusterStore ??= this.#build(async () => {
      const cluster = this.config.cluster;
      if (!cluster) return undefined;
      const { openGcsObjectStore } = await import('../storage/gcs-object-store.js');
      return openGcsObjectStore(bucketStoreOptions(cluster));
    });
    return this.#clusterStore;
  }

  leaderships(): Promise<Leaderships> {
    this.#leaderships ??= this.#build(async () => {
      const { buildLeaderships } = await import('./leadership.js');
      const metrics = this.config.cluster ? await this.metrics() : undefined;
      const leaderships = await buildLeaderships({
        cluster: this.config.cluster,
        logger: this.logger,
        ...(metrics ? { metrics: metrics.lease } : {}),
      });
      this.#onClose(() => leaderships.stop());
      return leaderships;
    });
    return this.#leaderships;
  }

  metrics(): Promise<Metrics> {
    this.#metrics ??= this.#build(async () => {
      const metrics = (await import('../telemetry/metrics.js')).createMetrics();
      metrics.roleInfo.set({ role: this.config.role }, 1);
      return metrics;
    });
    return this.#metrics;
  }

  notifier(): Promise<NotificationDispatcher> {
    this.#notifier ??= this.#build(async () => {
      const [{ NotificationDispatcher }, { notifyOnEvents, targetsFromConfig }, metrics] = await Promise.all([
        import('../notify/dispatcher.js'),
        import('../notify/from-events.js'),
        this.metrics(),
      ]);
      const notifier = new NotificationDispatcher(this.config.notify.targets, {
        logger: this.logger.child({ component: 'notify' }),
        onResult: (target, result) => metrics.notifications.inc({ target, result }),
      });
      const stop = notifyOnEvents(
        this.events,
        notifier,
        targetsFromConfig(this.config.services),
        // The watch's recorder has written the entry already (it listens first).
        (kind, event) => this.store.history.idOf(kind, event.service, event.at),
      );
      this.#onClose(async () => {
        stop();
        await notifier.close();
      });
      return notifier;
    });
    return this.#notifier;
  }

  watch(): Promise<WatchRuntime> {
    this.#watch ??= this.#build(async () => {
      const [{ buildWatchRuntime }, { recordHistory }, metrics, leaderships, schema] = await Promise.all([
        import('./watch-runtime.js'),
        import('../watch/history-recorder.js'),
        this.metrics(),
        this.leaderships(),
        this.schemaInspector(),
      ]);
      const logger = this.logger.child({ component: 'watch' });
      const { runtime, close } = buildWatchRuntime({
        config: this.config,
        store: this.store,
        events: this.events,
        logger,
        metrics: metrics.watch,
        owner: this.#options.owner,
        clock: this.clock,
        backups: this.backups,
        leadership: leaderships.watch,
        schema,
        background: (name, work) => {
          this.work
            .run(name, work)
            .catch((error: unknown) =>
              logger.error({ work: name, err: errorMessage(error) }, 'background work failed'),
            );
        },
      });
      const stopRecording = recordHistory(this.events, runtime.store.history, () =>
        leaderships.watch.generation(),
      );
      this.#onClose(async () => {
        stopRecording();
        await close();
      });
      return runtime;
    });
    return this.#watch;
  }

  schemaInspector(): Promise<SchemaInspector | null> {
    // Built once: the watch role's says once why it compares nothing, if it cannot.
    this.#schema ??= this.#build(async () => {
      if (this.config.role !== 'watch') {
        const { appSchemaInspector } = await import('./app-schema-inspector.js');
        return appSchemaInspector(this.config);
      }
      const [{ bucketSchemaInspector }, offsite] = await Promise.all([
        import('./bucket-schema-inspector.js'),
        this.offsite(),
      ]);
      return bucketSchemaInspector(this.config.backup, offsite, this.logger.child({ component: 'watch' }));
    });
    return this.#schema;
  }

  alerts(): Promise<AlertEndpoints> {
    this.#alerts ??= this.#build(async () => {
      // A role that is off loads nothing of its own: the backup role never loads the rollback path
      // (nor, through it, the Google clients); the watch role serves no backup trigger.
      const { role } = this.config;
      const [{ createAlertEndpoints }, { backupTriggerAdapter }, metrics] = await Promise.all([
        import('./webhooks.js'),
        import('./backup-trigger.js'),
        this.metrics(),
      ]);
      return createAlertEndpoints({
        config: this.config,
        store: this.store,
        metrics: metrics.alerts,
        logger: this.logger.child({ component: 'alerts' }),
        work: this.work,
        ...(runsWatch(role) ? { rollback: await this.#alertRollback() } : {}),
        // Served whether or not scheduled backups run, like the CLI's `runwarden backup`.
        ...(runsBackups(role) ? { backups: backupTriggerAdapter(this.backups) } : {}),
        now: this.clock,
      });
    });
    return this.#alerts;
  }

  async #alertRollback() {
    const [{ watchRollbackAdapter }, rollback] = await Promise.all([
      import('./alert-rollback.js'),
      import('../watch/rollback.js'),
    ]);
    return watchRollbackAdapter(
      // The watch (and its Google clients) loads at the first alert when no service is
      // watched yet: a daemon without services never loads them otherwise.
      async (request, signal) => rollback.requestRollback(await this.watch(), request, signal),
      this.clock,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#closers.length > 0) {
      const close = this.#closers.pop() as () => Promise<void> | void;
      try {
        await close();
      } catch (error) {
        this.logger.error({ err: errorMessage(error) }, 'close failed');
      }
    }
  }

  #openStore(): { store: Store; exists: boolean } {
    if (!this.#store) {
      this.#refuseWhenClosed();
      const { state_dir } = this.config;
      const existing =
        this.#options.storeAccess === 'read' ? Store.openExisting(state_dir) : Store.open(state_dir);
      const store = existing ?? Store.empty();
      this.#onClose(() => store.close());
      this.#store = { store, exists: existing !== undefined };
    }
    return this.#store;
  }

  /** Builds a part once; a part asked for after `close` is refused rather than left open. */
  async #build<T>(make: () => Promise<T>): Promise<T> {
    this.#refuseWhenClosed();
    return make();
  }

  /** A part that finished building after `close` (it was awaiting its modules) is closed at once. */
  #onClose(close: () => Promise<void> | void): void {
    if (this.#closed) void Promise.resolve(close()).catch(() => undefined);
    else this.#closers.push(close);
  }

  #refuseWhenClosed(): void {
    if (this.#closed)
      throw new FatalError('RW_APP_CLOSED', 'runwarden is shutting down: nothing new is opened');
  }
}
