import { existsSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { STATE_COPY_OBJECT } from '../src/app/state-copy.js';
import { decodeStateCopy } from '../src/core/state-copy.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import { knownGoodInStore } from './helpers/known-good.js';
import { STORE_FILE } from '../src/store/store.js';
import { alertmanagerPayload, post } from './helpers/alerts-harness.js';
import { daemonReady, type SpawnedCli, spawnCli } from './helpers/cli.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { type Deadline, waitFor } from './helpers/wait.js';
import { FAST_SERVICE } from './helpers/watch-harness.js';

// Two watchers on the same service, each a built daemon in its own process (so one can be killed
// with SIGKILL), sharing the emulated Cloud Run and the lease bucket. What they did is read from
// the emulator: every UpdateService it accepted, with its arrival time.

const BUCKET = 'cluster-leases';
const TTL_MS = 1_500;
const MARGIN_MS = 300;
const POLL_MS = 200;
const COPY_DELAY_MS = 200;
/** A change reaches the bucket's state copy: the copy delay, then one write (bounded like the lease's). */
const COPIED: Deadline = {
  ms: SLOWDOWN * (COPY_DELAY_MS + COPY_DELAY_MS / 4) + 10_000,
  basis: `state_copy_delay ${COPY_DELAY_MS} ms x SLOWDOWN, plus a 10 s bound on the write`,
};
const TOKEN = 'x'.repeat(32);
/** A takeover: the standby waits a TTL from its last sight of the lease, reads again, then ticks. */
const TAKEOVER: Deadline = {
  ms: (TTL_MS + TTL_MS / 10 + POLL_MS) * SLOWDOWN,
  basis: 'lease TTL + a standby read + one poll',
};
/** A bad deploy judged: its rule window (3 s), metric delay and a few polls. */
const JUDGED: Deadline = {
  ms: (5_000 + 1_000 + 3 * POLL_MS) * SLOWDOWN,
  basis: 'rule window + metric delay',
};

const tempDir = useTempDir('runwarden-lease-daemon-');
const cleanups = useCleanups();

interface Watcher {
  name: string;
  stateDir: string;
  configFile: string;
  run: SpawnedCli;
  base: string;
}

async function leaderOf(watcher: Watcher): Promise<boolean | undefined> {
  try {
    const response = await fetch(`${watcher.base}/readyz?leader=watch`);
    const body = (await response.json()) as { leases?: { watch?: { leader: boolean } } };
    return body.leases?.watch?.leader;
  } catch {
    return undefined;
  }
}

describe('two watchers on one service, with a lease in Cloud Storage', () => {
  async function setUp() {
    const playground: Playground = await startPlayground(
      { project: 'lease-project', region: 'europe-west1', services: [{ name: 'shop' }], buckets: [BUCKET] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    cleanups.push(() => playground.stop());
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const watchers: Watcher[] = [];
    const start = async (name: string, storageUrl = playground.storage.url): Promise<Watcher> => {
      const dir = tempDir();
      const configFile = path.join(dir, 'runwarden.json');
      writeFileSync(
        configFile,
        JSON.stringify({
          state_dir: path.join(dir, 'state'),
          server: { address: '127.0.0.1:0' },
          log: { level: 'info', format: 'json' },
          backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: dir } },
          cloud_run: { endpoint, insecure: true, operation_timeout: '10s' },
          monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
          alerts: { bearer_token: TOKEN },
          cluster: {
            bucket: BUCKET,
            api_endpoint: storageUrl,
            lease_ttl: `${TTL_MS}ms`,
            lease_margin: `${MARGIN_MS}ms`,
            state_copy_delay: `${COPY_DELAY_MS}ms`,
          },
          services: [
            {
              project: playground.project,
              region: playground.region,
              service: 'shop',
              ...FAST_SERVICE,
              pre_deploy_backup: false,
            },
          ],
        }),
      );
      // What a watcher that ran before knows: first sight proves nothing (see Shared state).
      knownGoodInStore(path.join(dir, 'state'), 'shop', playground.revisions('shop')[0]?.name as string);
      const run = spawnCli(['daemon', '--config', configFile]);
      cleanups.push(async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) {
          run.child.kill('SIGTERM');
          await run.exited;
        }
      });
      const address = await daemonReady(run);
      const watcher = { name, run, base: `http://${address}`, stateDir: path.join(dir, 'state'), configFile };
      watchers.push(watcher);
      return watcher;
    };
    const leader = async (): Promise<{ leader: Watcher; standby: Watcher }> =>
      waitFor(
        async () => {
          const [a, b] = watchers as [Watcher, Watcher];
          const [aLeads, bLeads] = await Promise.all([leaderOf(a), leaderOf(b)]);
          if (aLeads === true && bLeads === false) return { leader: a, standby: b };
          if (bLeads === true && aLeads === false) return { leader: b, standby: a };
          return undefined;
        },
        'one leader and one standby',
        TAKEOVER,
      );
    const adopted = (watcher: Watcher) =>
      waitFor(() => (stableOf(watcher) ? true : undefined), `${watcher.name} adopts the baseline`, JUDGED);
    /** Waits until the shared state copy in the bucket shows what `query` looks for. */
    const inCopy = async <T>(query: (db: Database.Database) => T | undefined, what: string): Promise<T> => {
      const objects = await openGcsObjectStore({
        bucket: BUCKET,
        prefix: 'runwarden/cluster/',
        apiEndpoint: playground.storage.url,
      });
      return waitFor(
        async () => {
          const stat = await objects.stat(STATE_COPY_OBJECT, AbortSignal.timeout(10_000));
          if (!stat) return undefined;
          const { bytes } = await objects.read(STATE_COPY_OBJECT, {}, AbortSignal.timeout(10_000));
          const db = new Database(decodeStateCopy(bytes, STATE_COPY_OBJECT).image);
          try {
            return query(db);
          } finally {
            db.close();
          }
        },
        what,
        COPIED,
        { every: 100 },
      );
    };
    /** kill -9 of the leader; resolves once the standby leads (its restore hook has run by then). */
    const failOver = async (roles: { leader: Watcher; standby: Watcher }) => {
      roles.leader.run.child.kill('SIGKILL');
      await roles.leader.run.exited;
      await waitFor(
        async () => ((await leaderOf(roles.standby)) ? true : undefined),
        `${roles.standby.name} to take over`,
        TAKEOVER,
      );
    };
    return { playground, start, leader, adopted, inCopy, failOver };
  }

  it('roll a bad deploy back exactly once; the standby answers webhooks 503 with Retry-After', async () => {
    const { playground, start, leader, adopted } = await setUp();
    await start('a');
    await start('b');
    const roles = await leader();
    await adopted(roles.leader);
    await adopted(roles.standby);
    const webhook = await fetch(`${roles.standby.base}/v1/alerts/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${'x'.repeat(32)}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(webhook.status).toBe(503);
    expect(webhook.headers.get('retry-after')).toBe('2');
    expect(await webhook.json()).toMatchObject({ error: 'standby' });
    const ready = await fetch(`${roles.standby.base}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${roles.standby.base}/readyz?leader=watch`)).status).toBe(503);
    expect((await fetch(`${roles.leader.base}/readyz?leader=watch`)).status).toBe(200);
    // status names the holder of each lease (the bucket is read; spawned: the emulator runs here).
    const status = spawnCli(['status', '--json', '--config', roles.standby.configFile]);
    expect((await status.exited).code, status.output.stderr).toBe(0);
    const leases = (JSON.parse(status.output.stdout) as { leases: Array<{ scope: string; holder: string }> })
      .leases;
    const holderOf = (scope: string) => leases.find((lease) => lease.scope === scope)?.holder;
    expect(holderOf('watch')).toMatch(/\/\d+\/[0-9a-f]{6}$/);
    expect(holderOf('watch')?.split('/')[1]).toBe(String(roles.leader.run.child.pid));

    const good = playground.revisions('shop')[0]?.name as string;
    await playground.deploy('shop', { behaviour: 'failing-health' });
    await waitFor(
      () =>
        playground.traffic('shop').some((e) => e.revision === good && e.percent === 100) ? true : undefined,
      'the rollback',
      JUDGED,
    );
    // Only the leader sends the change. (Whether the standby trips too before the leader's
    // rollback reaches it depends on where its probes fall in their interval, so it is not waited
    // for here; the kill and partition tests below count every UpdateService against who held the lease.)
    expect(playground.trafficUpdates('shop')).toHaveLength(1);
    // The leader's history names the lease generation it acted under; the standby's has no rollback.
    await waitFor(
      () => (historyOf(roles.leader, 'rollback:completed').length > 0 ? true : undefined),
      'the rollback in the history',
      JUDGED,
    );
    const started = historyOf(roles.leader, 'rollback:started');
    expect(started).toHaveLength(1);
    expect(started[0]?.lease_generation).toEqual(expect.any(Number));
    expect(historyOf(roles.standby, 'rollback:started')).toEqual([]);
  });

  it('kill -9 of the leader as the rule trips: the standby takes over and rolls back once', async () => {
    const { playground, start, leader, adopted } = await setUp();
    await start('a');
    await start('b');
    const roles = await leader();
    await adopted(roles.leader);
    await adopted(roles.standby);
    const good = playground.revisions('shop')[0]?.name as string;
    // The leader cannot change traffic: its rollback hangs until it is killed mid-way.
    playground.injectFault('UpdateService', { code: 'UNAVAILABLE', times: 1_000 });
    await playground.deploy('shop', { behaviour: 'failing-health' });
    await waitFor(
      () => ((playground.pendingFaults().UpdateService ?? 1_000) < 1_000 ? true : undefined),
      "the leader's rollback to reach UpdateService",
      JUDGED,
    );
    roles.leader.run.child.kill('SIGKILL');
    const killedAt = performance.now();
    playground.clearFaults('UpdateService');
    await waitFor(
      () =>
        playground.traffic('shop').some((e) => e.revision === good && e.percent === 100) ? true : undefined,
      'the standby to take over and roll back',
      { ms: TAKEOVER.ms + JUDGED.ms, basis: `${TAKEOVER.basis} + ${JUDGED.basis}` },
    );
    const updates = playground.trafficUpdates('shop');
    expect(updates).toHaveLength(1);
    expect(updates[0]?.at).toBeGreaterThan(killedAt);
    console.log(`failover: rollback ${Math.round((updates[0]?.at as number) - killedAt)} ms after the kill`);
  });

  it('a service frozen before the failover stays frozen after it: the new leader holds a bad deploy', async () => {
    const { playground, start, adopted, inCopy, failOver } = await setUp();
    const roles = await warmPair(start, adopted, inCopy);
    // A person freezes the service on the leader's host (the CLI writes its store; it takes no lease).
    const freeze = spawnCli([
      'freeze',
      '--service',
      'shop',
      '--reason',
      'incident 12',
      '--config',
      roles.leader.configFile,
    ]);
    expect((await freeze.exited).code, freeze.output.stderr).toBe(0);
    // The leader copies the change to the bucket (at most state_copy_delay behind) before it dies.
    await inCopy(
      (db) =>
        db.prepare("SELECT frozen FROM watch_services WHERE service = 'shop'").pluck().get() === 1
          ? true
          : undefined,
      'the freeze in the bucket copy',
    );
    // The standby's own store never saw the freeze: only the restore on takeover can bring it.
    expect(frozenOf(roles.standby)).toBe(false);
    await failOver(roles);
    expect(frozenOf(roles.standby)).toBe(true);
    expect(stableOf(roles.standby)).toBe(stableOf(roles.leader));

    const bad = await playground.deploy('shop', { behaviour: 'failing-health' });
    await waitFor(
      () => (historyOf(roles.standby, 'watch:held').length > 0 ? true : undefined),
      'the new leader to hold the bad deploy of the frozen service',
      JUDGED,
    );
    expect(historyOf(roles.standby, 'rollback:started')).toEqual([]);
    expect(playground.trafficUpdates('shop')).toEqual([]);
    expect(playground.traffic('shop')).toMatchObject([{ revision: bad, percent: 100 }]);
    expect(frozenOf(roles.standby)).toBe(true);
  });

  it('an alert acted on before the failover, delivered again to the new leader, does not act again', async () => {
    const { playground, start, adopted, inCopy, failOver } = await setUp();
    const roles = await warmPair(start, adopted, inCopy);
    const good = playground.revisions('shop')[0]?.name as string;
    await playground.deploy('shop', {});
    const payload = alertmanagerPayload([
      { labels: { service: 'shop', runwarden_action: 'rollback' }, fingerprint: 'failover0000001' },
    ]);
    const acted = await post(roles.leader.base, '/v1/alerts/alertmanager', payload, `Bearer ${TOKEN}`);
    expect(acted.status).toBe(200);
    expect(acted.body.alerts).toMatchObject([{ outcome: 'rolled_back', to_revision: good }]);
    expect(playground.trafficUpdates('shop')).toHaveLength(1);
    await inCopy(
      (db) =>
        db
          .prepare("SELECT outcome FROM alert_deliveries WHERE fingerprint = 'failover0000001'")
          .pluck()
          .get() === 'rolled_back'
          ? true
          : undefined,
      'the alert delivery in the bucket copy',
    );
    await failOver(roles);

    // Alertmanager sends the same alert again (it never saw the answer, say): the new leader
    // knows it from the shared state and does not act again.
    const again = await post(roles.standby.base, '/v1/alerts/alertmanager', payload, `Bearer ${TOKEN}`);
    expect(again.status).toBe(200);
    expect(again.body.alerts).toMatchObject([{ outcome: 'duplicate' }]);
    expect(playground.trafficUpdates('shop')).toHaveLength(1);
    expect(historyOf(roles.standby, 'rollback:started')).toHaveLength(1);
  });

  it('a leader partitioned from the bucket stops acting before its deadline; the standby takes over and acts', async () => {
    const { playground, start, adopted } = await setUp();
    const a = await start('a', await playground.storage.openDoor('a'));
    await waitFor(async () => ((await leaderOf(a)) ? true : undefined), 'a leads', TAKEOVER);
    const b = await start('b');
    await adopted(a);
    await adopted(b);
    playground.storage.injectFault({ operation: '*', door: 'a', drop: true, forMs: 120_000 });
    // a's last renew began before the cut: its own deadline is at most a TTL after it.
    const deadlineBound = performance.now() + TTL_MS;
    await playground.deploy('shop', { behaviour: 'failing-health' });
    const good = playground.revisions('shop')[1]?.name as string;
    await waitFor(
      () =>
        playground.traffic('shop').some((e) => e.revision === good && e.percent === 100) ? true : undefined,
      'the rollback',
      { ms: TAKEOVER.ms + JUDGED.ms, basis: `${TAKEOVER.basis} + ${JUDGED.basis}` },
    );
    await waitFor(async () => ((await leaderOf(b)) ? true : undefined), 'b leads', TAKEOVER);
    expect(await leaderOf(a)).toBe(false);
    const bTookAt = logTime(b.run.output.stdout, 'took the lease');
    const updates = playground.trafficUpdates('shop');
    expect(updates).toHaveLength(1);
    // Sent by a before its deadline, or by b after it took the lease: never by a holder past its deadline.
    for (const update of updates)
      expect(update.at < deadlineBound || update.wallAt >= (bTookAt as number)).toBe(true);
    expect(a.run.output.stdout).toContain('acting');
  });
});

/**
 * A leader whose baseline is in the bucket's copy, then a standby. The standby restores the copy at
 * its start and again when it takes over; what a test changes on the leader after both started
 * (a freeze, an alert's delivery) reaches the standby only through the takeover's restore.
 */
async function warmPair(
  start: (name: string) => Promise<Watcher>,
  adopted: (watcher: Watcher) => Promise<boolean>,
  inCopy: <T>(query: (db: Database.Database) => T | undefined, what: string) => Promise<T>,
): Promise<{ leader: Watcher; standby: Watcher }> {
  const leader = await start('a');
  await waitFor(async () => ((await leaderOf(leader)) ? true : undefined), 'a leads', TAKEOVER);
  await adopted(leader);
  await inCopy(
    (db) =>
      db.prepare("SELECT stable_revision FROM watch_services WHERE service = 'shop'").pluck().get() ??
      undefined,
    'the baseline in the bucket copy',
  );
  const standby = await start('b');
  expect(await leaderOf(standby)).toBe(false);
  return { leader, standby };
}

/** The time (epoch ms) of the first log line with `message`, or undefined. */
function logTime(stdout: string, message: string): number | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { message?: string; time?: string | number };
    if (entry.message === message && entry.time !== undefined)
      return typeof entry.time === 'number' ? entry.time : Date.parse(entry.time);
  }
  return undefined;
}

/** The stable revision in a watcher's store (WAL: reading never blocks the daemon). */
function stableOf(watcher: Watcher): string | undefined {
  const file = path.join(watcher.stateDir, STORE_FILE);
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT stable_revision FROM watch_services WHERE service = 'shop'").get() as
      | { stable_revision: string | null }
      | undefined;
    return row?.stable_revision ?? undefined;
  } catch {
    return undefined;
  } finally {
    db.close();
  }
}

/** Whether a watcher's store has the service frozen. */
function frozenOf(watcher: Watcher): boolean {
  const db = new Database(path.join(watcher.stateDir, STORE_FILE), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT frozen FROM watch_services WHERE service = 'shop'").pluck().get() === 1;
  } finally {
    db.close();
  }
}

/** A watcher's history entries of one kind, with the lease generation each was written under. */
function historyOf(watcher: Watcher, kind: string): Array<{ lease_generation: number | null }> {
  const file = path.join(watcher.stateDir, STORE_FILE);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT lease_generation FROM watch_history WHERE kind = ? ORDER BY id')
      .all(kind) as Array<{
      lease_generation: number | null;
    }>;
  } finally {
    db.close();
  }
}
