// The Cloud Run + Monitoring emulator (in this process) and the built daemon (a child process)
// watching it, for the rollback, alert and idle benchmarks. Timestamps come from the daemon's own
// audit history (its store, read-only) and from the emulator: when UpdateService arrives and when
// the traffic it set is served.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { epochNow } from './measure.mjs';
import { schedMs } from './proc.mjs';
import { cliArgs, cliEnv, DIST } from './runwarden.mjs';

export const PROJECT = 'bench-project';
export const REGION = 'europe-west1';
export const TOKEN = 'bench-token-0123456789abcdef';

/** Whether the pieces these benchmarks drive have landed; a reason string when not. */
export async function emulatedUnavailable(needs) {
  if (!existsSync(path.join(DIST, 'playground', 'index.js')))
    return 'the emulator (src/playground/) is not built';
  if (
    needs.includes('watch') &&
    !/startDeployWatch|scheduleWatches|buildWatchRuntime/.test(await appSource())
  )
    return 'the daemon does not run the deploy watch yet (src/app/)';
  if (needs.includes('alerts') && !/createAlertEndpoints|alertRoutes/.test(await appSource()))
    return 'the daemon does not serve the alert webhook yet (src/app/)';
  return undefined;
}

/** The built composition layer (dist/app/), where the daemon is wired. */
async function appSource() {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = path.join(DIST, 'app');
  if (!existsSync(dir)) return '';
  const files = (await readdir(dir)).filter((name) => name.endsWith('.js'));
  return (await Promise.all(files.map((name) => readFile(path.join(dir, name), 'utf8')))).join('\n');
}

/** Starts the emulator with `services` (names), each with one healthy revision serving 100 %. */
export async function startEmulator(services) {
  const { startPlayground } = await import(path.join(DIST, 'playground', 'index.js'));
  return startPlayground(
    {
      project: PROJECT,
      region: REGION,
      services: services.map((name) => ({ name, revisions: [{ behaviour: 'healthy' }] })),
    },
    { samplePeriodMs: 1_000, ingestionDelayMs: 500 },
  );
}

/**
 * Writes the daemon's config (services on the emulator, only the health rule unless `rules` is
 * given, no backups) and starts `runwarden daemon`. Resolves once /readyz answers 200.
 */
export async function startDaemon(
  work,
  playground,
  services,
  { probeMs, pollMs, rules, guard, extra = {}, command } = {},
) {
  mkdirSync(work, { recursive: true });
  const port = await freePort();
  const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
  const config = {
    state_dir: path.join(work, 'state'),
    server: { address: `127.0.0.1:${port}` },
    log: { level: 'info', format: 'json' },
    backup: { enabled: false, dir: path.join(work, 'backups'), sources: { data_dir: work } },
    cloud_run: { endpoint, insecure: true },
    monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '2s' },
    alerts: { bearer_token: TOKEN },
    services: services.map((name) => ({
      project: PROJECT,
      region: REGION,
      service: name,
      probe_interval: `${probeMs}ms`,
      probe_timeout: '2s',
      poll_interval: `${pollMs}ms`,
      watch_window: '30m',
      cooldown: '0s',
      pre_deploy_backup: false,
      rules: rules ?? [{ name: 'health', signal: 'health', threshold: 3 }],
      ...(guard ? { guard } : {}),
    })),
    ...extra,
  };
  const file = path.join(work, 'runwarden.yaml');
  writeFileSync(file, stringify(config));
  if (services.length > 0) await knownGoodFromHistory(config.state_dir, playground, services);
  const logs = createWriteStream(path.join(work, 'daemon.log'));
  // `command` ({ args: [...node flags, CLI], env }) runs another build or other flags, for A/B
  // experiments; by default the CLI runs as its shebang says.
  const child = spawn(process.execPath, [...(command?.args ?? cliArgs()), 'daemon', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cliEnv(), ...command?.env, METADATA_SERVER_DETECTION: 'none', NO_COLOR: '1' },
  });
  child.stdout.pipe(logs);
  child.stderr.pipe(logs);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const base = `http://127.0.0.1:${port}`;
  const ready = waitFor(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`daemon exited ${child.exitCode}; see ${path.join(work, 'daemon.log')}`);
      const response = await fetch(`${base}/readyz`).catch(() => undefined);
      return response?.status === 200;
    },
    30_000,
    'the daemon to be ready',
  );
  await ready.catch(async (error) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  return {
    pid: child.pid,
    base,
    stateDb: path.join(work, 'state'),
    history: historyReader(path.join(work, 'state')),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Records the revision serving each service now as known good before the daemon starts, as a
 * watcher that ran before knows it: first sight proves nothing, so the daemon would otherwise watch
 * each first revision for its whole window before any deploy is measured.
 */
async function knownGoodFromHistory(stateDir, playground, services) {
  const { Store } = await import(pathToFileURL(path.join(DIST, 'store', 'store.js')).href);
  const store = Store.open(stateDir);
  try {
    const now = Date.now();
    store.transaction(() => {
      for (const name of services) {
        const revision = playground.traffic(name).find((entry) => entry.percent === 100)?.revision;
        if (!revision) continue;
        store.services.setStable(name, revision, 'baseline', now);
        store.knownGood.append(name, revision, 'baseline', now);
      }
    });
  } finally {
    store.close();
  }
}

/** Reads the daemon's audit history (watch_history) read-only: rows after `afterId`, oldest first. */
function historyReader(stateDir) {
  let db;
  return {
    /** How many services the daemon has polled at least once. */
    polled() {
      if (!db) this.rows(0);
      return db
        ? db.prepare('SELECT count(*) FROM watch_services WHERE polled_at IS NOT NULL').pluck().get()
        : 0;
    },
    rows(afterId = 0) {
      if (!db) {
        const file = findStore(stateDir);
        if (!file) return [];
        db = new Database(file, { readonly: true, fileMustExist: true });
      }
      return db
        .prepare('SELECT id, service, at, kind, revision, detail FROM watch_history WHERE id > ? ORDER BY id')
        .all(afterId)
        .map((row) => ({ ...row, detail: JSON.parse(row.detail) }));
    },
    close() {
      db?.close();
    },
  };
}

function findStore(stateDir) {
  if (!existsSync(stateDir)) return undefined;
  const name = readdirSync(stateDir).find((file) => /\.(sqlite3?|db)$/.test(file));
  return name && path.join(stateDir, name);
}

/**
 * How often the sampler looks (ms): 5 by default, BENCH_SAMPLE_MS to change it. It used to be 1 ms,
 * when the arrival of each UpdateService was the sample that saw its injected fault consumed; the
 * arrival now comes from the emulator's own record, so the period only bounds when `allOn` resolves
 * and how finely `sched` cuts windows, and a 1 ms timer (two /proc reads a tick, at raised
 * priority) took CPU from the daemon it measured.
 */
const SAMPLE_MS = Number(process.env.BENCH_SAMPLE_MS ?? 5);

/**
 * Samples the emulator every SAMPLE_MS: `calls` holds when each UpdateService the emulator accepted
 * arrived (its own record, taken in the call's handler: exact, not rounded to a sample) and
 * `updateCalls()` counts every UpdateService received, refused ones too; `allOn` says when a
 * service's traffic is all on one revision. Also samples the scheduler statistics of `pids` (the
 * daemon, this process), so `sched(from, to)` can say how long each ran and waited for a CPU in a
 * window (the last 30 s; window edges to the sample before them). `stop()` ends the sampling.
 */
export function emulatorSampler(playground, pids = []) {
  const calls = [];
  let recorded = playground.trafficUpdates().length;
  const watchers = [];
  const history = [];
  const timer = setInterval(() => {
    const now = epochNow();
    const updates = playground.trafficUpdates();
    for (const update of updates.slice(recorded)) calls.push(performance.timeOrigin + update.at);
    recorded = updates.length;
    for (const watcher of watchers.splice(0)) {
      const served = playground.traffic(watcher.service);
      const all = served
        .filter((target) => target.revision === watcher.revision)
        .reduce((sum, target) => sum + target.percent, 0);
      if (all === 100) watcher.resolve(now);
      else watchers.push(watcher);
    }
    if (pids.length > 0) {
      history.push([now, pids.map((pid) => schedMs(pid))]);
      if (history.length > 30_000 / SAMPLE_MS) history.splice(0, 10_000 / SAMPLE_MS);
    }
  }, SAMPLE_MS);
  const sampleAt = (time) => {
    let low = 0;
    let high = history.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (history[middle][0] <= time) low = middle;
      else high = middle - 1;
    }
    return history[low]?.[1];
  };
  return {
    periodMs: SAMPLE_MS,
    calls,
    /** UpdateService calls the emulator received so far, accepted or refused. */
    updateCalls() {
      return playground.apiCalls().UpdateService ?? 0;
    },
    /** Resolves with the first sample time at which `revision` serves 100 % of `service`. */
    allOn(service, revision) {
      return new Promise((resolve) => watchers.push({ service, revision, resolve }));
    },
    /** Per pid given, `{ onCpu, waiting }` ms between two epoch-ms times, or undefined if not sampled. */
    sched(from, to) {
      const [before, after] = [sampleAt(from), sampleAt(to)];
      if (!before || !after) return undefined;
      return after.map((end, index) => ({
        onCpu: end.onCpu - before[index].onCpu,
        waiting: end.waiting - before[index].waiting,
      }));
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * Raises this process's main thread above the machine's other work (when allowed), so that the
 * emulator and the 1 ms sampler, which only observe, record arrivals when they happen rather than
 * when a shared CPU frees up. Call after the daemon is spawned so that it keeps normal priority.
 * Returns a function restoring the previous priority.
 */
export function observeWithPriority() {
  const before = os.getPriority(0);
  try {
    os.setPriority(0, -10);
  } catch {
    return () => {};
  }
  return () => os.setPriority(0, before);
}

/**
 * A sentence on where the slowest windows went: `windows` are `{ ms, sched }` with `sched` from
 * `sampler.sched` over [daemon pid, this pid].
 */
export function attribution(windows, what) {
  const known = windows.filter((window) => window.sched);
  if (known.length === 0) return '';
  const fmt = (value) => `${value.toFixed(1)} ms`;
  const slowest = [...known].sort((a, b) => b.ms - a.ms).slice(0, 3);
  const medianCpu = [...known.map((window) => window.sched[0].onCpu)].sort((a, b) => a - b)[
    known.length >> 1
  ];
  return (
    ` Scheduler statistics (/proc schedstat of the main threads): the daemon ran a median ${fmt(medianCpu)} on a CPU per ${what}; ` +
    `the slowest: ${slowest
      .map(
        ({ ms, sched: [daemon, observer] }) =>
          `${fmt(ms)} (daemon on a CPU ${fmt(daemon.onCpu)}, waiting for one ${fmt(daemon.waiting)}; emulator waiting for one ${fmt(observer.waiting)})`,
      )
      .join(', ')}.`
  );
}

/** Polls `check` until it returns a truthy value; rejects naming `what` after `timeoutMs`. */
export async function waitFor(check, timeoutMs, what, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
