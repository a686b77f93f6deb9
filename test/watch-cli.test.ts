import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Config, ConfigInput } from '../src/config/schema.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { STORE_FILE } from '../src/store/store.js';
import { daemonReady, exitWithin, spawnCli } from './helpers/cli.js';
import { PROCESS_START, parsed, pollDeadline, stopDeadline, watchDeadline } from './helpers/deadlines.js';
import { FAST_SERVICE, keepTraffic } from './helpers/watch-harness.js';
import { waitFor } from './helpers/wait.js';

interface HistoryRow {
  kind: string;
  revision: string | null;
  watch_id: number | null;
  detail: { restore_point?: unknown };
}

/**
 * The built daemon and CLI against the emulator, as separate processes sharing one store: the
 * daemon watches and rolls back, the CLI tells the story (status, history) and acts by hand. The
 * tests continue from one another.
 */
describe('the deploy watch as processes', () => {
  let playground: Playground;
  let dir: string;
  let configFile: string;
  /** The daemon's configuration, parsed: every deadline below is derived from its intervals. */
  let config: Config;
  const daemons: Array<ReturnType<typeof spawnCli>> = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runwarden-watch-cli-'));
    playground = await startPlayground(
      { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
  });

  afterAll(async () => {
    for (const daemon of daemons) daemon.child.kill('SIGKILL');
    await playground?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronous on purpose: the emulator lives in this process and must keep answering.
  const cli = async (...args: string[]) => {
    const run = spawnCli([...args, '--config', configFile]);
    const { code } = await run.exited;
    return { status: code, stdout: run.output.stdout, stderr: run.output.stderr };
  };
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const status = async () => (await json('status')).services[0];
  /**
   * Reads the daemon's store (WAL: a reader never blocks it). The waits poll it rather than spawn
   * `status` each time, which on a loaded machine takes seconds; the CLI then tells the story.
   */
  const fromStore = <T>(sql: string, ...params: unknown[]): T | undefined => {
    const file = path.join(dir, 'state', STORE_FILE);
    if (!existsSync(file)) return undefined;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).get(...params) as T | undefined;
    } catch {
      return undefined; // the daemon is still creating its tables
    } finally {
      db.close();
    }
  };
  const stableRevision = () =>
    fromStore<{ stable_revision: string | null }>(
      "SELECT stable_revision FROM watch_services WHERE service = 'shop'",
    )?.stable_revision;
  const watchOf = (candidate: string) =>
    fromStore<{ id: number; status: string }>(
      'SELECT id, status FROM watches WHERE candidate = ? ORDER BY id DESC',
      candidate,
    );
  const history = async (...args: string[]) => (await json('history', ...args)).entries as HistoryRow[];
  const startDaemon = async () => {
    const daemon = spawnCli(['daemon', '--config', configFile]);
    daemons.push(daemon);
    await daemonReady(daemon);
    return daemon;
  };
  const served = () =>
    Object.fromEntries(playground.traffic('shop').map((entry) => [entry.revision, entry.percent]));

  it('tells the story of a bad deploy: predeploy, watch, rollback, history', async () => {
    const db = new Database(path.join(dir, 'db.sqlite3'));
    db.exec(
      "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0001_initial', 'x')",
    );
    db.close();
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    configFile = path.join(dir, 'runwarden.yaml');
    const input: ConfigInput = {
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      // info: the daemon says when it is ready, and the deadlines start from there.
      log: { level: 'info', format: 'json' },
      backup: {
        enabled: false,
        dir: './backups',
        sources: { data_dir: '.', tenants: { required: false }, media: { required: false } },
      },
      cloud_run: { endpoint, insecure: true, retry_deadline: '5s', operation_timeout: '10s' },
      monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
      services: [
        {
          project: playground.project,
          region: playground.region,
          service: 'shop',
          ...FAST_SERVICE,
          // A candidate nothing reaches keeps its watch open (waiting for data) until the test
          // sends users to it, so the watch below is interrupted mid-way however slow the machine.
          insufficient_data: 'keep_waiting',
        } as never,
      ],
    };
    writeFileSync(configFile, stringify(input));
    config = parsed(input);
    const v1 = playground.revisions('shop')[0]!.name;
    // First sight proves nothing: a person vouches for the revision serving before the first
    // deploy runwarden watches (the CI step before `gcloud run deploy`), before the daemon exists.
    expect(await json('predeploy', '--service', 'shop')).toMatchObject({ service: 'shop', stable: v1 });
    const daemon = await startDaemon();
    await waitFor(() => (stableRevision() === v1 ? true : undefined), 'the baseline', pollDeadline(config));

    const predeploy = await json('predeploy', '--service', 'shop');
    expect(predeploy).toMatchObject({ service: 'shop', stable: v1 });
    expect(predeploy.backup).toMatch(/\.zip$/);

    const v2 = await playground.deploy('shop', { behaviour: 'failing-health' });
    await waitFor(
      () => (watchOf(v2) && watchOf(v2)?.status !== 'watching' ? true : undefined),
      'the watch of the bad deploy to end',
      watchDeadline(config),
    );
    expect((await status()).last_watch).toMatchObject({ candidate: v2, status: 'rolled_back' });
    expect(served()).toEqual({ [v1]: 100 });

    const human = await cli('status');
    expect(human.status).toBe(0);
    expect(human.stdout).toContain(`stable:    ${v1}`);
    expect(human.stdout).toContain(`${v2} rolled_back`);
    const entries = await history('--service', 'shop', '--limit', '100000');
    expect(entries.map((entry) => entry.kind)).toEqual(
      expect.arrayContaining(['predeploy', 'watch:started', 'rollback:started', 'rollback:completed']),
    );
    const completed = entries.find((entry) => entry.kind === 'rollback:completed')!;
    expect(completed.detail.restore_point).toMatchObject({
      source: 'predeploy',
      backup: predeploy.backup,
      schema_changed: false,
    });
    const evaluations = (await json('history', '--watch', String(completed.watch_id))).evaluations as Array<
      Record<string, unknown>
    >;
    expect(evaluations.some((entry) => entry.taken === 'rollback' && entry.verdict === 'unhealthy')).toBe(
      true,
    );
    expect((await cli('history', '--watch', String(completed.watch_id))).stdout).toContain('-> rollback');
    daemon.child.kill('SIGTERM');
    await exitWithin(daemon, stopDeadline(config), 'the daemon to stop');
  });

  it('a daemon killed mid-watch resumes it after a restart, and promotes', async () => {
    const first = await startDaemon();
    // Deployed without traffic: its watch waits for data (keep_waiting), so it is still open when
    // the daemon is killed, whenever that happens.
    const v3 = await playground.deploy('shop', { behaviour: 'healthy', noTraffic: true });
    const watch = await waitFor(() => watchOf(v3), 'the watch', pollDeadline(config));
    first.child.kill('SIGKILL');
    await exitWithin(first, PROCESS_START, 'the killed daemon to be gone');
    expect((await status()).watch).toMatchObject({ id: watch.id, candidate: v3 });
    expect(watch.status).toBe('watching');
    // While no daemon runs, v3 takes the traffic and users reach it: the data the watch waits for.
    await playground.setTraffic('shop', [{ type: 'REVISION', revision: v3, percent: 100 }]);
    const stopTraffic = keepTraffic(playground);
    try {
      await startDaemon();
      await waitFor(
        () => (stableRevision() === v3 ? true : undefined),
        'the promotion',
        watchDeadline(config),
      );
    } finally {
      await stopTraffic();
    }
    expect((await status()).last_watch).toMatchObject({ id: watch.id, status: 'promoted' });
    // The whole history: on a loaded machine, failed polls (watch:failure) can outnumber the
    // default 50 newest entries.
    const started = (await history('--service', 'shop', '--limit', '100000')).filter(
      (entry) => entry.kind === 'watch:started' && entry.revision === v3,
    );
    expect(started).toHaveLength(1);
  });

  it('manual commands: freeze, rollback --dry-run, rollback --to, promote; bad input exits 2', async () => {
    const v1 = playground.revisions('shop').at(-1)!.name;
    const v3 = (await status()).stable.revision as string;
    expect(await json('freeze', '--service', 'shop', '--reason', 'maintenance')).toMatchObject({
      frozen: true,
      changed: true,
    });
    expect(await status()).toMatchObject({ frozen: true, frozen_reason: 'maintenance' });
    expect(await json('unfreeze', '--service', 'shop')).toMatchObject({ frozen: false, changed: true });

    const dry = await json('rollback', '--service', 'shop', '--to', v1, '--dry-run');
    expect(dry).toMatchObject({ kind: 'dry_run', to: v1, from: [v3] });
    expect(served()).toEqual({ [v3]: 100 });

    const unknown = await cli('rollback', '--service', 'shop', '--to', 'shop-99999-zzz');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('--to shop-99999-zzz: not a revision of shop');
    const noService = await cli('rollback', '--service', 'nope');
    expect(noService.status).toBe(2);
    expect(noService.stderr).toContain('unknown service "nope"; configured: shop');

    expect(await json('rollback', '--service', 'shop', '--to', v1)).toMatchObject({
      kind: 'rolled_back',
      to: v1,
      confirmed: true,
    });
    expect(served()).toEqual({ [v1]: 100 });
    // The rollback marked v3 bad: promoting it back names the mark and needs --force.
    const unforced = await cli('promote', '--service', 'shop', '--revision', v3);
    expect(unforced.status).toBe(1);
    expect(unforced.stderr).toContain(`${v3} is marked bad (rolled back from`);
    expect(served()).toEqual({ [v1]: 100 });
    expect(await json('promote', '--service', 'shop', '--revision', v3, '--force')).toMatchObject({
      revision: v3,
      traffic_changed: true,
    });
    expect(served()).toEqual({ [v3]: 100 });
    const after = await status();
    expect(after.stable.revision).toBe(v3);
    expect(after.bad_revisions).not.toContain(v3);
  });
});
