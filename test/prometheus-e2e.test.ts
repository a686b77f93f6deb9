import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { Store } from '../src/store/store.js';
import { sample } from './helpers/alerts-harness.js';
import { daemonReady, spawnCli } from './helpers/cli.js';
import { actionDeadline, configOfFile, pollDeadline, SLOWDOWN } from './helpers/deadlines.js';
import { query, startAlertmanager, startPrometheus, useTools } from './helpers/prometheus.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { type Deadline, plus, waitFor } from './helpers/wait.js';
import { knownGoodInStore } from './helpers/known-good.js';

// The whole chain with real parts: the emulated Cloud Run service serves errors on a bad revision;
// Prometheus scrapes the emulated app's counters and the runwarden daemon; an alert rule fires;
// Alertmanager delivers it to the daemon's webhook with a bearer token from a file; the daemon
// rolls the service back through the real Cloud Run client over gRPC to the emulator. The daemon's
// own watch has no rules for the service, so the alert is the only thing that can roll it back.

const tempDir = useTempDir('runwarden-e2e-');
const tool = useTools();
const cleanups = useCleanups();

const TOKEN = 'e2e-token-0123456789abcdef';

/** Prometheus and Alertmanager timing, given to both tools and used for the deadlines below (ms). */
const SCRAPE_MS = 1_000;
const EVALUATION_MS = 1_000;
const RATE_WINDOW_MS = 5_000;
const GROUP_WAIT_MS = 1_000;
const GROUP_INTERVAL_MS = 1_000;
const seconds = (ms: number) => `${ms / 1000}s`;

/** A series of the daemon's /metrics shows in a query: a scrape or a few. */
const SCRAPED: Deadline = { ms: SLOWDOWN * SCRAPE_MS, basis: `${SLOWDOWN} x scrape_interval` };
/** The alert rule's rate window fills or empties, then the rule is evaluated over fresh scrapes. */
const RULE_FLIPS: Deadline = {
  ms: RATE_WINDOW_MS + SLOWDOWN * (SCRAPE_MS + EVALUATION_MS),
  basis: `rate window + ${SLOWDOWN} x (scrape_interval + evaluation_interval)`,
};
/** Alertmanager sends a group: its first wait, or the next interval for a change. */
const DELIVERED: Deadline = {
  ms: SLOWDOWN * (GROUP_WAIT_MS + GROUP_INTERVAL_MS),
  basis: `${SLOWDOWN} x (group_wait + group_interval)`,
};

/** Reads the daemon's last known good revision of `service` from its store (read-only; WAL). */
function stableRevision(stateDir: string, service: string): string | null | undefined {
  let store: Store | undefined;
  try {
    store = Store.openExisting(stateDir);
    return store?.services.get(service)?.stableRevision;
  } catch {
    return undefined;
  } finally {
    store?.close();
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
  const input = {
    state_dir: './state',
    server: { address: '127.0.0.1:0' },
    log: { format: 'json', level: 'info' },
    shutdown: { grace_period: '5s' },
    backup: { enabled: false },
    // Bounds on each Cloud Run call, its retries and its operation: the rollback deadline below.
    cloud_run: {
      endpoint,
      insecure: true,
      call_timeout: '10s',
      retry_deadline: '5s',
      operation_timeout: '10s',
    },
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
  };
  writeFileSync(configFile, stringify(input));
  // The serving revision is known good from earlier history: first sight proves nothing.
  knownGoodInStore(path.join(dir, 'state'), 'shop', playground.revisions('shop')[0]!.name);
  const daemon = spawnCli(['daemon', '--config', configFile], { cwd: dir });
  cleanups.push(async () => {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
  const address = await daemonReady(daemon);
  return {
    address,
    stateDir: path.join(dir, 'state'),
    output: daemon.output,
    config: configOfFile(configFile),
  };
}

async function daemonMetrics(address: string): Promise<string> {
  return (await fetch(`http://${address}/metrics`)).text();
}

describe('alert-triggered rollback through real Prometheus and Alertmanager', () => {
  it('rolls the emulated service back when an alert rule over its errors fires', async () => {
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
      pollDeadline(daemon.config),
    );

    const alertmanager = await tool(
      startAlertmanager(
        path.join(dir, 'alertmanager'),
        stringify({
          route: {
            receiver: 'runwarden',
            group_by: ['alertname', 'service'],
            group_wait: seconds(GROUP_WAIT_MS),
            group_interval: seconds(GROUP_INTERVAL_MS),
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
          global: { scrape_interval: seconds(SCRAPE_MS), evaluation_interval: seconds(EVALUATION_MS) },
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
                    expr: `sum by (service) (rate(emulated_requests_total{job="shop-app", code=~"5.."}[${seconds(RATE_WINDOW_MS)}])) > 1`,
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
      SCRAPED,
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
      RULE_FLIPS,
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
      plus(DELIVERED, actionDeadline(daemon.config)),
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
      actionDeadline(daemon.config),
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
      plus(RULE_FLIPS, DELIVERED),
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
      SCRAPED,
    );
    const check = spawnSync('promtool', ['check', 'metrics'], { input: after, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);
  });
});
