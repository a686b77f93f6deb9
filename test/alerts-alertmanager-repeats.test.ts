import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startPlayground } from '../src/playground/index.js';
import { Store } from '../src/store/store.js';
import { sample } from './helpers/alerts-harness.js';
import { spawnCli, waitFor } from './helpers/cli.js';
import { startAlertmanager, useTools } from './helpers/prometheus.js';
import { PROCESS_START, SLOWDOWN } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import type { Deadline } from './helpers/wait.js';
import { knownGoodInStore } from './helpers/known-good.js';

// A real Alertmanager re-sends a firing alert every repeat_interval. The built daemon must decide
// each repeat of a refused alert again (here: refused because the service was frozen), and an alert
// arriving while a deploy newer than the last rollback is watched is not refused for cooldown.

const tempDir = useTempDir('runwarden-am-repeats-');
const tool = useTools();
const cleanups = useCleanups();

const TOKEN = 'repeats-token-0123456789abcdef';
/** Alertmanager's timers, as configured below. */
const GROUP_INTERVAL_MS = 1_000;
const REPEAT_INTERVAL_MS = 2_000;
/** The daemon's poll interval, as configured below. */
const POLL_MS = 1_000;
/** Starting processes (daemon, Alertmanager): nothing configures it. */
const START_DEADLINE: Deadline = PROCESS_START;
/** Enough for several of Alertmanager's repeats, each a group_interval tick after repeat_interval. */
const REPEATS_DEADLINE: Deadline = {
  ms: SLOWDOWN * (REPEAT_INTERVAL_MS + GROUP_INTERVAL_MS),
  basis: `${SLOWDOWN} x (Alertmanager repeat_interval + group_interval)`,
};
/** A watch starts within a few of the daemon's polls of a deploy. */
const WATCH_DEADLINE: Deadline = { ms: SLOWDOWN * 1.5 * POLL_MS, basis: `${SLOWDOWN * 1.5} x poll_interval` };

function readStore<T>(stateDir: string, read: (store: Store) => T): T | undefined {
  let store: Store | undefined;
  try {
    store = Store.openExisting(stateDir);
    return store && read(store);
  } catch {
    return undefined;
  } finally {
    store?.close();
  }
}

describe('refused alerts and a real Alertmanager', () => {
  it('acts on the repeat of an alert refused while frozen, and on an alert during a newer deploy within the cooldown', {
    timeout: 240_000,
  }, async () => {
    const dir = tempDir();
    const playground = await startPlayground(
      {
        project: 'repeats-project',
        region: 'europe-west1',
        services: [{ name: 'shop', revisions: [{ behaviour: 'healthy' }] }],
      },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    cleanups.push(() => playground.stop());
    const good = playground.revisions('shop')[0]?.name as string;

    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const configFile = path.join(dir, 'runwarden.yaml');
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    writeFileSync(
      configFile,
      stringify({
        state_dir: './state',
        server: { address: '127.0.0.1:0' },
        log: { format: 'json', level: 'info' },
        shutdown: { grace_period: '5s' },
        backup: { enabled: false },
        cloud_run: { endpoint, insecure: true },
        monitoring: { endpoint, insecure: true },
        services: [
          {
            name: 'shop',
            project: playground.project,
            region: playground.region,
            service: 'shop',
            poll_interval: '1s',
            probe_interval: '1s',
            pre_deploy_backup: false,
            cooldown: '1h',
            // No rule can roll back: only alerts do.
            rules: [],
          },
        ],
        alerts: { bearer_token_file: tokenFile },
      }),
    );
    const stateDir = path.join(dir, 'state');
    knownGoodInStore(stateDir, 'shop', good);
    const daemon = spawnCli(['daemon', '--config', configFile], { cwd: dir });
    cleanups.push(async () => {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
      await daemon.exited;
    });
    const address = await waitFor(
      () => {
        if (daemon.child.exitCode !== null)
          throw new Error(`daemon exited ${daemon.child.exitCode}: ${daemon.output.stderr}`);
        for (const line of daemon.output.stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { message?: string; address?: string };
          if (entry.message === 'runwarden daemon ready') return entry.address;
        }
        return undefined;
      },
      'the daemon to be ready',
      START_DEADLINE,
    );
    await waitFor(
      () =>
        readStore(stateDir, (store) => store.services.get('shop')?.stableRevision) === good
          ? true
          : undefined,
      `the daemon to adopt ${good}`,
      START_DEADLINE,
    );
    const cli = async (...args: string[]) => {
      const run = spawnCli([...args, '--config', configFile], { cwd: dir });
      const { code } = await run.exited;
      if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${run.output.stderr}`);
    };
    const received = async (outcome: string) =>
      sample(await (await fetch(`http://${address}/metrics`)).text(), 'runwarden_alerts_received_total', {
        source: 'alertmanager',
        outcome,
      }) ?? 0;
    const serving = () => playground.traffic('shop').filter((entry) => entry.percent > 0);
    const watching = (candidate: string) =>
      waitFor(
        () =>
          readStore(stateDir, (store) => store.watches.open('shop')?.candidate) === candidate
            ? true
            : undefined,
        `the daemon to watch ${candidate}`,
        WATCH_DEADLINE,
      );

    const alertmanager = await tool(
      startAlertmanager(
        path.join(dir, 'alertmanager'),
        stringify({
          route: {
            receiver: 'runwarden',
            group_by: ['alertname', 'service'],
            group_wait: '1s',
            group_interval: `${GROUP_INTERVAL_MS / 1000}s`,
            repeat_interval: `${REPEAT_INTERVAL_MS / 1000}s`,
          },
          receivers: [
            {
              name: 'runwarden',
              webhook_configs: [
                {
                  url: `http://${address}/v1/alerts/alertmanager`,
                  send_resolved: true,
                  http_config: { authorization: { type: 'Bearer', credentials_file: tokenFile } },
                },
              ],
            },
          ],
        }),
      ),
    );
    const fire = async (alertname: string) => {
      const now = Date.now();
      const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            labels: { alertname, service: 'shop', runwarden_action: 'rollback' },
            annotations: { summary: `${alertname} on shop` },
            startsAt: new Date(now).toISOString(),
            endsAt: new Date(now + 30 * 60_000).toISOString(),
          },
        ]),
      });
      expect(response.status).toBe(200);
    };

    // A bad deploy; the service is frozen when the alert about it arrives.
    const bad = await playground.deploy('shop', { behaviour: 'errors' });
    await watching(bad);
    await cli('freeze', '--service', 'shop', '--reason', 'investigating');
    await fire('ShopServerErrors');
    // Refused, and each repeat decided again (and refused again) while the freeze lasts.
    await waitFor(
      async () => ((await received('refused')) >= 2 ? true : undefined),
      'two refused deliveries of the alert (the first and a repeat)',
      REPEATS_DEADLINE,
    );
    expect(await received('duplicate')).toBe(0);
    expect(serving()).toMatchObject([{ revision: bad, percent: 100 }]);

    // The reason is gone: Alertmanager's next repeat rolls back.
    await cli('unfreeze', '--service', 'shop');
    await waitFor(
      () => (serving().length === 1 && serving()[0]?.revision === good ? true : undefined),
      `a repeat to roll back to ${good}`,
      REPEATS_DEADLINE,
    );
    await waitFor(
      async () => ((await received('rolled_back')) === 1 ? true : undefined),
      'the receiver to record the rollback',
      REPEATS_DEADLINE,
    );
    // Acted on: its later repeats are swallowed.
    await waitFor(
      async () => ((await received('duplicate')) >= 1 ? true : undefined),
      'a repeat of the acted-on alert to be answered duplicate',
      REPEATS_DEADLINE,
    );

    // A newer deploy, within the 1 h cooldown: a new incident, so a new alert about it acts.
    const newer = await playground.deploy('shop', { behaviour: 'errors' });
    await watching(newer);
    await fire('ShopLatency');
    await waitFor(
      () => (serving().length === 1 && serving()[0]?.revision === good ? true : undefined),
      `the alert about ${newer} to roll back to ${good} within the cooldown`,
      REPEATS_DEADLINE,
    );
    await waitFor(
      async () => ((await received('rolled_back')) === 2 ? true : undefined),
      'the receiver to record the second rollback',
      REPEATS_DEADLINE,
    );
    expect(await received('cooldown')).toBe(0);
    const metrics = await (await fetch(`http://${address}/metrics`)).text();
    expect(
      sample(metrics, 'runwarden_rollbacks_total', {
        service: 'shop',
        trigger: 'alert',
        result: 'completed',
      }),
    ).toBe(2);
  });
});
