import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { ServicesRepo } from '../src/store/watch/services-repo.js';
import { STORE_FILE } from '../src/store/store.js';
import { sample } from './helpers/alerts-harness.js';
import { spawnCli, waitFor } from './helpers/cli.js';
import { query, startAlertmanager, startPrometheus, useTools } from './helpers/prometheus.js';
import { useTempDir } from './helpers/temp.js';

// The whole chain with real parts: the emulated Cloud Run service serves errors on a bad revision;
// Prometheus scrapes the emulated app's counters and the runwarden daemon; an alert rule fires;
// Alertmanager delivers it to the daemon's webhook with a bearer token from a file; the daemon
// rolls the service back through the real Cloud Run client over gRPC to the emulator. The daemon's
// own watch has no rules for the service, so the alert is the only thing that can roll it back.

const tempDir = useTempDir('runwarden-e2e-');
const tool = useTools();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const TOKEN = 'e2e-token-0123456789abcdef';
const DEADLINE = 60_000;

function readyAddress(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { message?: string; address?: string };
    if (entry.message === 'runwarden daemon ready') return entry.address;
  }
  return undefined;
}

/** Reads the daemon's last known good revision of `service` from its store (read-only; WAL). */
function stableRevision(stateDir: string, service: string): string | null | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path.join(stateDir, STORE_FILE), { readonly: true, fileMustExist: true });
    return new ServicesRepo(db).get(service)?.stableRevision;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** Keeps simulated users on the service URL until stopped. */
function keepDriving(playground: Playground): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) await playground.driveTraffic('shop', { rps: 40, durationMs: 500 });
  })();
  return async () => {
    running = false;
    await loop;
  };
}

async function startDaemonProcess(dir: string, playground: Playground) {
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
          // The watch adopts the serving revision as the last known good one, but has no rule that
          // could roll back: only the alert can.
          rules: [],
        },
      ],
      alerts: { bearer_token_file: tokenFile },
    }),
  );
  const daemon = spawnCli(['daemon', '--config', configFile], { cwd: dir });
  cleanups.push(async () => {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
  const address = await waitFor(
    () => {
      if (daemon.child.exitCode !== null)
        throw new Error(
          `daemon exited ${daemon.child.exitCode}: ${daemon.output.stderr}${daemon.output.stdout}`,
        );
      return readyAddress(daemon.output.stdout);
    },
    'the daemon to be ready',
    DEADLINE,
  );
  return { address, stateDir: path.join(dir, 'state'), output: daemon.output };
}

async function daemonMetrics(address: string): Promise<string> {
  return (await fetch(`http://${address}/metrics`)).text();
}

describe('alert-triggered rollback through real Prometheus and Alertmanager', () => {
  it('rolls the emulated service back when an alert rule over its errors fires', {
    timeout: 180_000,
  }, async () => {
    const dir = tempDir();
    const playground = await startPlayground(
      {
        project: 'e2e-project',
        region: 'europe-west1',
        services: [{ name: 'shop', revisions: [{ behaviour: 'healthy' }] }],
      },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    cleanups.push(() => playground.stop());
    const good = playground.revisions('shop')[0]?.name as string;

    const daemon = await startDaemonProcess(dir, playground);
    await waitFor(
      () => (stableRevision(daemon.stateDir, 'shop') === good ? true : undefined),
      `the daemon to adopt ${good} as the last known good revision`,
      DEADLINE,
    );

    const alertmanager = await tool(
      startAlertmanager(
        path.join(dir, 'alertmanager'),
        stringify({
          route: {
            receiver: 'runwarden',
            group_by: ['alertname', 'service'],
            group_wait: '1s',
            group_interval: '1s',
            repeat_interval: '1h',
          },
          receivers: [
            {
              name: 'runwarden',
              webhook_configs: [
                {
                  url: `http://${daemon.address}/v1/alerts/alertmanager`,
                  send_resolved: true,
                  http_config: {
                    authorization: { type: 'Bearer', credentials_file: path.join(dir, 'token') },
                  },
                },
              ],
            },
          ],
        }),
      ),
    );

    const serviceUrl = new URL(playground.serviceUrl('shop'));
    const prometheus = await tool(
      startPrometheus(
        path.join(dir, 'prometheus'),
        stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: ['rules.yml'],
          alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager.url).host] }] }] },
          scrape_configs: [
            { job_name: 'runwarden', static_configs: [{ targets: [daemon.address] }] },
            {
              job_name: 'shop-app',
              scheme: serviceUrl.protocol.replace(':', ''),
              static_configs: [{ targets: [serviceUrl.host] }],
            },
          ],
        }),
        {
          'rules.yml': stringify({
            groups: [
              {
                name: 'shop',
                rules: [
                  {
                    alert: 'ShopServerErrors',
                    expr: 'sum by (service) (rate(emulated_requests_total{job="shop-app", code=~"5.."}[5s])) > 1',
                    labels: { severity: 'critical', runwarden_action: 'rollback' },
                    annotations: { summary: 'shop answers 5xx' },
                  },
                ],
              },
            ],
          }),
        },
      ),
    );

    // runwarden's own series arrive through Prometheus's query API.
    const buildInfo = await waitFor(
      async () => {
        const result = await query(prometheus.url, 'runwarden_build_info{job="runwarden"}');
        return result.data?.result.length ? result.data.result : undefined;
      },
      'runwarden_build_info in Prometheus',
      DEADLINE,
    );
    expect(buildInfo[0]?.metric.instance).toBe(daemon.address);

    // A bad revision takes all traffic and answers half of the requests with 500.
    const stopDriving = keepDriving(playground);
    cleanups.push(stopDriving);
    const bad = await playground.deploy('shop', { behaviour: 'errors' });
    expect(playground.traffic('shop')).toMatchObject([{ revision: bad, percent: 100 }]);

    await waitFor(
      async () => {
        const result = await query(
          prometheus.url,
          'ALERTS{alertname="ShopServerErrors", alertstate="firing"}',
        );
        return result.data?.result.length ? true : undefined;
      },
      'the ShopServerErrors alert to fire',
      DEADLINE,
    );

    // Alertmanager delivers; the daemon rolls back to the last known good revision.
    await waitFor(
      () => {
        const traffic = playground.traffic('shop').filter((entry) => entry.percent > 0);
        return traffic.length === 1 && traffic[0]?.revision === good && traffic[0].percent === 100
          ? true
          : undefined;
      },
      `traffic to go back to ${good}`,
      DEADLINE,
    );
    // The traffic change lands a moment before the receiver records its outcome: wait for it.
    const text = await waitFor(
      async () => {
        const metrics = await daemonMetrics(daemon.address);
        const outcome = sample(metrics, 'runwarden_alerts_received_total', {
          source: 'alertmanager',
          outcome: 'rolled_back',
        });
        return outcome === 1 ? metrics : undefined;
      },
      'the receiver to record the rollback',
      DEADLINE,
    );
    expect(
      sample(text, 'runwarden_alerts_received_total', { source: 'alertmanager', outcome: 'rolled_back' }),
    ).toBe(1);
    expect(
      sample(text, 'runwarden_rollbacks_total', { service: 'shop', trigger: 'alert', result: 'completed' }),
    ).toBe(1);
    expect(
      sample(text, 'runwarden_webhook_refusals_total', { route: 'alertmanager', reason: 'unauthorized' }),
    ).toBe(0);
    expect(text).not.toMatch(/runwarden_rollbacks_total\{[^}]*trigger="watch"/);

    // The errors stop, the alert resolves, and the resolved delivery does nothing.
    await waitFor(
      async () => {
        const metrics = await daemonMetrics(daemon.address);
        return (sample(metrics, 'runwarden_alerts_received_total', {
          source: 'alertmanager',
          outcome: 'resolved',
        }) ?? 0) >= 1
          ? true
          : undefined;
      },
      'the resolved alert to be delivered',
      DEADLINE,
    );
    const after = await daemonMetrics(daemon.address);
    expect(
      sample(after, 'runwarden_rollbacks_total', { service: 'shop', trigger: 'alert', result: 'completed' }),
    ).toBe(1);
    expect(playground.traffic('shop').filter((entry) => entry.percent > 0)).toMatchObject([
      { revision: good, percent: 100 },
    ]);

    // The rollback is visible through Prometheus too, and /metrics with every series populated
    // still passes promtool.
    await waitFor(
      async () => {
        const result = await query(
          prometheus.url,
          'runwarden_rollbacks_total{job="runwarden", trigger="alert", result="completed"}',
        );
        return result.data?.result[0]?.value[1] === '1' ? true : undefined;
      },
      'the rollback counter in Prometheus',
      DEADLINE,
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: after, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
  });
});
