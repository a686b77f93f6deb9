import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Config } from '../src/config/schema.js';
import { writeSampleData } from '../src/demo/sample-data.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { STORE_FILE } from '../src/store/store.js';
import { daemonReady, exitWithin, runCli, spawnCli } from './helpers/cli.js';
import {
  actionDeadline,
  agedOutAt,
  configOfFile,
  pollDeadline,
  SLOWDOWN,
  stopDeadline,
  WORK_BACKSTOP,
  watchDeadline,
} from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { untilTime, plus, waitFor } from './helpers/wait.js';
import { FAST_SERVICE, keepTraffic } from './helpers/watch-harness.js';
import { knownGoodInStore } from './helpers/known-good.js';

const tempDir = useTempDir('runwarden-shutdown-');
const running: Array<ReturnType<typeof spawnCli>> = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const daemon of running.splice(0)) {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The daemon's JSON log lines (stdout), parsed. */
function logLines(output: { stdout: string }): Array<Record<string, unknown>> {
  return output.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function messages(output: { stdout: string }): string[] {
  return logLines(output).map((line) => String(line.message));
}

/**
 * App data whose main database is ~150 MiB of random (incompressible) rows, so a backup takes
 * seconds: long enough to be caught in the middle by a signal.
 */
function bigAppData(dir: string): string {
  const data = path.join(dir, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'), { recursive: true });
  const db = new Database(path.join(data, 'db.sqlite3'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2_400; i++) insert.run(randomBytes(64 * 1024));
  })();
  db.close();
  const tenant = new Database(path.join(data, 'tenants', 'acme.sqlite3'));
  tenant.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
  tenant.close();
  writeFileSync(path.join(data, 'media', 'terms.txt'), 'terms\n'.repeat(100));
  return data;
}

/** The schedule of backupDaemonConfig: a backup every second. */
const EVERY_SECOND = { cron: '* * * * * *', periodMs: 1_000 };

/** A daemon config taking a backup every second, with the given grace period. */
function backupDaemonConfig(dir: string, gracePeriod: string): string {
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    file,
    stringify({
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      shutdown: { grace_period: gracePeriod },
      log: { format: 'json', level: 'info' },
      backup: { dir: './backups', schedule: EVERY_SECOND.cron, sources: { data_dir: './data' } },
    }),
  );
  return file;
}

function backupDirFiles(dir: string): string[] {
  return readdirSync(path.join(dir, 'backups')).sort();
}

/** Starts the daemon and sends SIGTERM once its first backup is being written (the .partial exists). */
async function sigtermMidBackup(dir: string, config: string) {
  const daemon = spawnCli(['daemon', '--config', config]);
  running.push(daemon);
  await daemonReady(daemon);
  // The first scheduled backup starts within a period; its .partial appears once the database is
  // snapshotted, which takes as long as the data and the CPU make it.
  const partial = await waitFor(
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited early:\n${daemon.output.stderr}`);
      try {
        return backupDirFiles(dir).find((name) => name.endsWith('.zip.partial'));
      } catch {
        return undefined; // the backup folder is not there yet
      }
    },
    'a backup to be in progress (a .zip.partial in the backup folder)',
    plus(
      { ms: SLOWDOWN * EVERY_SECOND.periodMs, basis: `${SLOWDOWN} x the backup schedule's period` },
      WORK_BACKSTOP,
    ),
  );
  daemon.child.kill('SIGTERM');
  return { daemon, partial };
}

describe('SIGTERM during a backup', () => {
  it('lets the backup finish within the grace period: one verified, cataloged archive and no partial file', async () => {
    const dir = tempDir();
    bigAppData(dir);
    const config = backupDaemonConfig(dir, '2m');
    const { daemon, partial } = await sigtermMidBackup(dir, config);

    // The deadline is the grace period: the daemon must be gone by then.
    const exit = await exitWithin(daemon, stopDeadline(configOfFile(config)), 'the daemon to exit');
    expect(exit).toEqual({ code: 0, signal: null });

    // The signal came while the backup ran, and the backup went on after it.
    // Other jobs may be running too (the start-up configuration check, on a slow machine).
    expect(logLines(daemon.output).find((line) => line.message === 'stopping')?.running).toContain('backup');
    const log = messages(daemon.output);
    expect(log.indexOf('backup completed')).toBeGreaterThan(log.indexOf('stopping'));
    expect(log).not.toContain('work did not finish within the grace period and was aborted');
    const archive = partial.replace(/\.partial$/, '');
    expect(backupDirFiles(dir)).toEqual([archive]);

    const listed = runCli(['backups', 'list', '--json', '--config', config]);
    expect(listed.status).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: Array<{ file: string; status: string }> })
      .backups;
    expect(backups).toEqual([
      expect.objectContaining({ file: path.join(dir, 'backups', archive), status: 'verified' }),
    ]);
    expect(runCli(['backups', 'verify', archive, '--config', config]).status).toBe(0);
  });

  it('past the grace period aborts the backup and leaves no partial or half archive behind', async () => {
    const dir = tempDir();
    bigAppData(dir);
    const config = backupDaemonConfig(dir, '200ms');
    const { daemon } = await sigtermMidBackup(dir, config);

    // Grace period, then at most the work tracker's 5 s for aborted work to unwind.
    const exit = await exitWithin(daemon, stopDeadline(configOfFile(config)), 'the daemon to exit');
    expect(exit).toEqual({ code: 0, signal: null });

    const lines = logLines(daemon.output);
    // Other jobs may be running too (the start-up configuration check, on a slow machine).
    expect(lines.find((line) => line.message === 'stopping')?.running).toContain('backup');
    const aborted = lines.find(
      (line) => line.message === 'work did not finish within the grace period and was aborted',
    );
    expect(aborted?.aborted).toContain('backup');
    expect(lines.find((line) => line.message === 'backup failed')).toMatchObject({
      code: 'RW_SHUTTING_DOWN',
    });
    expect(lines.map((line) => line.message)).not.toContain('backup completed');

    // Nothing half-written: no partial, no archive, no temp snapshot, nothing cataloged.
    expect(backupDirFiles(dir)).toEqual([]);
    const listed = runCli(['backups', 'list', '--json', '--config', config]);
    expect(listed.status).toBe(0);
    expect((JSON.parse(listed.stdout) as { backups: unknown[] }).backups).toEqual([]);
  });
});

/** A daemon config watching service `shop` of `playground` with short windows (see FAST_SERVICE). */
function watchDaemonConfig(dir: string, playground: Playground, gracePeriod: string): string {
  writeSampleData(path.join(dir, 'app'));
  const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    file,
    stringify({
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      shutdown: { grace_period: gracePeriod },
      log: { format: 'json', level: 'info' },
      backup: { dir: './backups', sources: { data_dir: './app' } },
      cloud_run: {
        endpoint,
        insecure: true,
        call_timeout: '10s',
        retry_deadline: '5s',
        operation_timeout: '10s',
      },
      monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
      services: [
        { project: playground.project, region: playground.region, service: 'shop', ...FAST_SERVICE },
      ],
    }),
  );
  return file;
}

/** Reads the daemon's store (WAL: a reader never blocks the daemon). */
function readStore<T>(dir: string, read: (db: Database.Database) => T): T {
  const db = new Database(path.join(dir, 'state', STORE_FILE), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function stableRevision(dir: string): string | undefined {
  if (!existsSync(path.join(dir, 'state', STORE_FILE))) return undefined;
  try {
    const row = readStore(dir, (db) =>
      db.prepare("SELECT stable_revision FROM watch_services WHERE service = 'shop'").get(),
    ) as { stable_revision: string | null } | undefined;
    return row?.stable_revision ?? undefined;
  } catch {
    return undefined; // the daemon is still creating its store
  }
}

function watchOf(dir: string, candidate: string) {
  return readStore(dir, (db) =>
    db.prepare('SELECT status, tripped FROM watches WHERE candidate = ?').get(candidate),
  ) as { status: string; tripped: string } | undefined;
}

function servesAllOf(playground: Playground, revision: string): boolean {
  return playground.traffic('shop').some((target) => target.revision === revision && target.percent === 100);
}

/** The emulator with one healthy revision of `shop`, the daemon watching it, and users visiting it. */
async function watchedShop(gracePeriod: string) {
  const dir = tempDir();
  const playground = await startPlayground(
    { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
    { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
  );
  cleanups.push(() => playground.stop());
  const file = watchDaemonConfig(dir, playground, gracePeriod);
  const config = configOfFile(file);
  const start = async () => {
    const daemon = spawnCli(['daemon', '--config', file]);
    running.push(daemon);
    await daemonReady(daemon);
    return daemon;
  };
  knownGoodInStore(config.state_dir, 'shop', playground.revisions('shop')[0]!.name);
  const daemon = await start();
  const stable = await waitFor(
    () => stableRevision(dir),
    'the daemon to take the serving revision as known good',
    pollDeadline(config),
  );
  const stopUsers = keepTraffic(playground);
  cleanups.unshift(stopUsers);
  return { dir, playground, daemon, stable, start, stopUsers, config };
}

/**
 * Deploys a revision answering half its requests with 500 and holds the rollback's UpdateService
 * call for `holdMs`; resolves once that call is in flight (the emulator took the injected delay).
 */
async function badDeployWithHeldRollback(
  playground: Playground,
  config: Config,
  holdMs: number,
): Promise<string> {
  const bad = await playground.deploy('shop', { behaviour: 'errors' });
  playground.injectFault('UpdateService', { delayMs: holdMs });
  await waitFor(
    () => (playground.pendingFaults().UpdateService === undefined ? true : undefined),
    "the rollback's UpdateService call to be in flight",
    watchDeadline(config),
  );
  return bad;
}

describe('SIGTERM during a rollback', () => {
  it('lets the traffic update finish within the grace period', async () => {
    const { dir, playground, daemon, stable, config } = await watchedShop('30s');
    const bad = await badDeployWithHeldRollback(playground, config, 2_000);
    expect(servesAllOf(playground, bad)).toBe(true);
    daemon.child.kill('SIGTERM');

    const exit = await exitWithin(daemon, stopDeadline(config), 'the daemon to exit');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(servesAllOf(playground, stable)).toBe(true);
    const lines = logLines(daemon.output);
    expect(lines.find((line) => line.message === 'stopping')?.running).toContain('watch:shop');
    const log = lines.map((line) => String(line.message));
    expect(log.indexOf('rolled back')).toBeGreaterThan(log.indexOf('stopping'));
    expect(log).not.toContain('work did not finish within the grace period and was aborted');
    expect(watchOf(dir, bad)?.status).toBe('rolled_back');
  });

  it('past the grace period leaves the tripped watch in the store, and the next start rolls back', async () => {
    const { dir, playground, daemon, stable, start, config } = await watchedShop('300ms');
    const bad = await badDeployWithHeldRollback(playground, config, 10_000);
    daemon.child.kill('SIGTERM');
    const exit = await exitWithin(daemon, stopDeadline(config), 'the daemon to exit');
    expect(exit).toEqual({ code: 0, signal: null });
    const aborted = logLines(daemon.output).find(
      (line) => line.message === 'work did not finish within the grace period and was aborted',
    );
    expect(aborted?.aborted).toContain('watch:shop');
    // The update never reached Cloud Run: the bad revision still serves, and the store keeps the
    // open watch with the rule that tripped.
    expect(servesAllOf(playground, bad)).toBe(true);
    expect(watchOf(dir, bad)).toEqual({ status: 'watching', tripped: JSON.stringify(['http_5xx']) });

    const next = await start();
    await waitFor(
      () => (servesAllOf(playground, stable) ? true : undefined),
      'the next start to roll back',
      watchDeadline(config),
    );
    await waitFor(
      () => (watchOf(dir, bad)?.status === 'rolled_back' ? true : undefined),
      'the watch to be recorded as rolled back',
      actionDeadline(config),
    );
    next.child.kill('SIGTERM');
    expect(await exitWithin(next, stopDeadline(config))).toEqual({ code: 0, signal: null });
  });
});

/** The rollback recorded as owed for `shop` (table watch_owed_rollbacks), if any. */
function owedRollback(dir: string) {
  return readStore(dir, (db) =>
    db
      .prepare("SELECT to_revision, from_revisions, trigger FROM watch_owed_rollbacks WHERE service = 'shop'")
      .get(),
  ) as { to_revision: string; from_revisions: string; trigger: string } | undefined;
}

/** The deadline the daemon stored for the watch of `candidate` (ms since epoch). */
function storedWatchDeadline(dir: string, candidate: string): number {
  const row = readStore(dir, (db) =>
    db.prepare('SELECT deadline FROM watches WHERE candidate = ?').get(candidate),
  ) as { deadline: number };
  return row.deadline;
}

describe('SIGTERM during a rollback, then a quiet restart', () => {
  it('records the rollback as owed; once the errors aged out and the window passed, the next start still rolls back', async () => {
    const { dir, playground, daemon, stable, start, stopUsers, config } = await watchedShop('300ms');
    const bad = await badDeployWithHeldRollback(playground, config, 10_000);
    // Decided and sent: before UpdateService the store already says a rollback is owed.
    expect(owedRollback(dir)).toEqual({
      to_revision: stable,
      from_revisions: JSON.stringify([bad]),
      trigger: 'watch',
    });
    daemon.child.kill('SIGTERM');
    await exitWithin(daemon, stopDeadline(config), 'the daemon to exit');
    const aborted = logLines(daemon.output).find(
      (line) => line.message === 'work did not finish within the grace period and was aborted',
    );
    expect(aborted?.aborted).toContain('watch:shop');
    expect(servesAllOf(playground, bad)).toBe(true);
    expect(watchOf(dir, bad)).toEqual({ status: 'watching', tripped: JSON.stringify(['http_5xx']) });
    expect(owedRollback(dir)?.to_revision).toBe(stable);

    // `runwarden status` (daemon down: it reads the store) shows what is owed.
    const file = path.join(dir, 'runwarden.yaml');
    const shown = runCli(['status', '--json', '--config', file]);
    expect(shown.status).toBe(0);
    const service = (JSON.parse(shown.stdout) as { services: Array<Record<string, unknown>> }).services[0];
    expect(service?.owed_rollback).toMatchObject({ to: stable, from: [bad], trigger: 'watch' });
    expect(runCli(['status', '--config', file]).stdout).toContain(`owed:      rollback to ${stable}`);

    // The users leave: no more errors. Wait until the last ones are older than the rule window (3 s,
    // read 1 s late, 1 s buckets) and the watch window is over, so fresh metrics alone would end the
    // watch failed and leave the bad revision serving.
    await stopUsers();
    await untilTime(Math.max(storedWatchDeadline(dir, bad), agedOutAt(config, Date.now())));

    const next = await start();
    await waitFor(
      () => (servesAllOf(playground, stable) ? true : undefined),
      'the next start to carry out the owed rollback',
      plus(pollDeadline(config), actionDeadline(config)),
    );
    await waitFor(
      () => (watchOf(dir, bad)?.status === 'rolled_back' ? true : undefined),
      'the watch to be recorded as rolled back',
      actionDeadline(config),
    );
    expect(owedRollback(dir)).toBeUndefined();
    await waitFor(
      () => (logLines(next.output).some((line) => line.message === 'rolled back') ? true : undefined),
      'the rollback to be logged',
      actionDeadline(config),
    );
    expect(messages(next.output)).toContain('carrying out an owed rollback');

    // The emulated users get the stable revision again.
    const visit = await playground.driveTraffic('shop', { rps: 20, durationMs: 500 });
    expect(Object.keys(visit.byRevision)).toEqual([stable]);
    expect(visit.byCode).toEqual({ '200': visit.sent });

    next.child.kill('SIGTERM');
    expect(await exitWithin(next, stopDeadline(config))).toEqual({ code: 0, signal: null });
    const after = runCli(['status', '--json', '--config', file]);
    const afterService = (JSON.parse(after.stdout) as { services: Array<Record<string, unknown>> })
      .services[0];
    expect(afterService).toMatchObject({ owed_rollback: null, bad_revisions: [bad] });
    expect(afterService?.last_rollback).toMatchObject({ to: stable, trigger: 'watch' });
  });
});
