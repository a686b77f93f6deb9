import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { type Config, type ConfigInput, configSchema } from '../../src/config/schema.js';
import { resolveBackupPaths } from '../../src/config/schema/backup.js';
import { EventBus, type RunwardenEvents } from '../../src/events/event-bus.js';
import { type Playground, type ScenarioInput, startPlayground } from '../../src/playground/index.js';
import { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { watchMetrics } from '../../src/telemetry/metrics-watch.js';
import { createBackupService } from '../../src/app/backup-service.js';
import { buildWatchRuntime } from '../../src/app/watch-runtime.js';
import { recordHistory } from '../../src/watch/history-recorder.js';
import { probeJob } from '../../src/watch/probe-job.js';
import type { WatchRuntime } from '../../src/watch/watch-runtime.js';
import { tickService } from '../../src/watch/watch-tick.js';
import { afterEach } from 'vitest';
import { actionDeadline, passDeadline, watchDeadline } from './deadlines.js';
import { useTempDir } from './temp.js';
import { type Deadline, waitFor } from './wait.js';

/** Short windows so a whole watch fits in seconds: 1 s buckets, visible after 200 ms, read after 1 s. */
export const FAST_SERVICE = {
  poll_interval: '200ms',
  probe_interval: '200ms',
  probe_timeout: '1s',
  watch_window: '5s',
  cooldown: '1m',
  rules: [
    { name: 'http_5xx', signal: 'requests', response_code_class: '5xx', threshold: 5, window: '3s' },
    { name: 'http_503', signal: 'requests', response_code: '503', threshold: 1, window: '2s' },
    { name: 'health', signal: 'health', threshold: 3 },
    { name: 'cpu', signal: 'cpu', threshold: 0.9, window: '3s', action: 'alert' },
    { name: 'memory', signal: 'memory', threshold: 0.9, window: '3s', action: 'alert' },
  ],
} as const;

export interface Harness {
  playground: Playground;
  config: Config;
  stateDir: string;
  mainDb: string;
  store: Store;
  events: EventBus;
  runtime: WatchRuntime;
  /** Every event emitted, in order, for assertions. */
  seen: Array<{ name: string; payload: unknown }>;
  /**
   * Runs probe + tick passes, one per poll interval as the daemon does, until `done` returns
   * something truthy; fails past `within` (by default the whole watch of one deploy, derived from
   * the service's configuration).
   */
  runUntil<T>(done: () => T | undefined | false, within?: Deadline): Promise<T>;
  /** Runs passes until the event `name` (matching `match`) has been emitted; returns its payload. */
  runUntilEvent<K extends keyof RunwardenEvents & string>(
    name: K,
    match?: (payload: RunwardenEvents[K]) => boolean,
    within?: Deadline,
  ): Promise<RunwardenEvents[K]>;
  /** Closes the runtime and the store (as a killed daemon would leave them: state on disk). */
  closeRuntime(): Promise<void>;
  /** Builds a new runtime over the same state dir (a restarted daemon). */
  reopen(): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  scenario?: ScenarioInput;
  service?: Record<string, unknown>;
  /** Top-level config keys added once the emulator runs (e.g. its IAM Credentials endpoint). */
  config?: (playground: Playground) => Partial<ConfigInput>;
  /** More services of the scenario watched with the same configuration as `shop` (after it). */
  alsoWatch?: readonly string[];
  stateDir: string;
}

/** The emulator, a store in a temp dir, and the watch runtime with the real gRPC clients. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const playground = await startPlayground(
    options.scenario ?? { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
    { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
  );
  const stateDir = options.stateDir;
  const dataDir = path.join(stateDir, 'app');
  mkdirSync(path.join(dataDir, 'media'), { recursive: true });
  const mainDb = path.join(dataDir, 'db.sqlite3');
  const app = new Database(mainDb);
  app.pragma('journal_mode = WAL');
  app.exec(
    "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', 'now')",
  );
  app.close();
  const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
  const input: ConfigInput = {
    state_dir: stateDir,
    backup: {
      dir: path.join(stateDir, 'backups'),
      lock_wait: '10s',
      sources: { data_dir: dataDir, tenants: { required: false } },
    },
    cloud_run: {
      endpoint,
      insecure: true,
      retry_deadline: '5s',
      operation_timeout: '10s',
      call_timeout: '3s',
    },
    monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
    ...options.config?.(playground),
    services: ['shop', ...(options.alsoWatch ?? [])].map(
      (service) =>
        ({
          project: playground.project,
          region: playground.region,
          service,
          ...FAST_SERVICE,
          ...options.service,
        }) as never,
    ),
  };
  const config = configSchema.parse(input);
  resolveBackupPaths(config.backup, stateDir);
  const events = new EventBus();
  const seen: Harness['seen'] = [];
  const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent', format: 'json' });
  let store: Store;
  let runtime: WatchRuntime;
  let closeClients: () => Promise<void>;
  let offs: Array<() => void> = [];
  const background = new Set<Promise<void>>();

  const open = () => {
    store = Store.open(stateDir);
    const built = buildWatchRuntime({
      config,
      store,
      events,
      logger,
      metrics: watchMetrics(new Registry()),
      owner: `test:${process.pid}`,
      backups: createBackupService({ config: config.backup, store: () => store, events, logger }),
      background: (name, work) => {
        const running = work(new AbortController().signal).catch((error) => {
          throw new Error(`background ${name} failed: ${String(error)}`);
        });
        background.add(running);
        void running.finally(() => background.delete(running));
      },
    });
    runtime = built.runtime;
    closeClients = built.close;
    offs = [recordHistory(events, runtime.store.history)];
  };
  open();
  const originalEmit = events.emit.bind(events);
  events.emit = (name, payload) => {
    seen.push({ name, payload });
    originalEmit(name, payload);
  };

  const pass = async () => {
    const signal = AbortSignal.timeout(passDeadline(config).ms);
    const service = runtime.services[0]!;
    await probeJob(runtime, service, () => {}).runOnce(signal);
    await tickService(runtime, service, signal);
  };

  const runUntil = <T>(
    done: () => T | undefined | false,
    within = watchDeadline(config),
    what = 'the condition',
  ): Promise<T> =>
    waitFor(
      async () => {
        const result = done();
        if (result) return result;
        await pass();
        return undefined;
      },
      what,
      within,
      { every: config.services[0]!.poll_interval },
    );

  const harness: Harness = {
    playground,
    config,
    stateDir,
    mainDb,
    get store() {
      return store;
    },
    events,
    get runtime() {
      return runtime;
    },
    seen,
    runUntil,
    runUntilEvent: (name, match = () => true, within) =>
      runUntil(
        () => seen.find((entry) => entry.name === name && match(entry.payload as never))?.payload as never,
        within,
        `the event ${name}`,
      ),
    closeRuntime: async () => {
      await Promise.allSettled([...background]);
      for (const off of offs) off();
      await closeClients();
      store.close();
    },
    reopen: async () => open(),
    stop: async () => {
      await harness.closeRuntime().catch(() => {});
      await playground.stop();
    },
  };
  return harness;
}

/** Sends simulated users to the service (`shop` by default) in the background until the returned function is called. */
export function keepTraffic(playground: Playground, rps = 20, service = 'shop'): () => Promise<void> {
  const controller = new AbortController();
  const running = (async () => {
    while (!controller.signal.aborted) {
      await playground.driveTraffic(service, { rps, durationMs: 500, signal: controller.signal });
    }
  })();
  return async () => {
    controller.abort();
    await running;
  };
}

/**
 * The watch tests' set-up: `start` starts a harness in a fresh temp folder, `ready` also starts it
 * knowing the first revision as good (v1: see knownFromHistory) and waits for its first poll;
 * either is stopped after the test.
 * `signal` bounds one rollback, read or tick made by hand by the Cloud Run bounds of its config.
 */
export function useWatchHarness(prefix = 'runwarden-watch-') {
  const tempDir = useTempDir(prefix);
  let current: Harness | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  const start = async (options: Omit<HarnessOptions, 'stateDir'> = {}): Promise<Harness> => {
    current = await startHarness({ stateDir: tempDir(), ...options });
    return current;
  };
  return {
    start,
    async ready(service: Record<string, unknown> = {}): Promise<{ h: Harness; v1: string }> {
      const h = await start({ service });
      const v1 = knownFromHistory(h);
      await h.runUntil(() => h.store.services.get('shop')?.snapshot ?? undefined);
      return { h, v1 };
    },
    signal(): AbortSignal {
      if (!current) throw new Error('no watch harness is running');
      return AbortSignal.timeout(actionDeadline(current.config).ms);
    },
  };
}

/**
 * Records the revision serving all of `shop` now as known good, as a watcher that ran before (or
 * restored its state copy from the bucket) knows it: the tests of later deploys start from there.
 * First sight itself proves nothing, so the watch never adopts it unwatched (watch-first-sight.test.ts).
 */
export function knownFromHistory(h: Harness): string {
  const serving = h.playground.traffic('shop').filter((entry) => entry.percent > 0);
  if (serving.length !== 1 || serving[0]?.percent !== 100)
    throw new Error(
      `knownFromHistory: expected one revision serving all of shop, got ${JSON.stringify(serving)}`,
    );
  const v1 = serving[0].revision;
  const now = h.runtime.clock();
  h.store.transaction(() => {
    h.store.services.setStable('shop', v1, 'baseline', now);
    h.store.knownGood.append('shop', v1, 'baseline', now);
  });
  return v1;
}

/** Which revisions serve the emulated `shop` service, revision -> percent. */
export function servedBy(h: Harness): Record<string, number> {
  return Object.fromEntries(h.playground.traffic('shop').map((entry) => [entry.revision, entry.percent]));
}
