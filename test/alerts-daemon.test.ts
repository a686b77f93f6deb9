import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { alertmanagerPayload, BEARER, post, sample, TOKEN } from './helpers/alerts-harness.js';
import { pollDeadline } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';
import { knownGoodInStore } from './helpers/known-good.js';

// The receivers inside the real daemon, rolling back through the deploy watch's one rollback path
// and the real Cloud Run client over gRPC to the emulator.

const tempDir = useTempDir('runwarden-alerts-daemon-');
const cleanups = useCleanups();

const silent = createLogger({
  format: 'json',
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});

async function start(mode: 'enforce' | 'dry-run' = 'enforce') {
  const playground: Playground = await startPlayground(
    { project: 'alerts-project', region: 'europe-west1', services: [{ name: 'shop' }] },
    { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
  );
  cleanups.push(() => playground.stop());
  const good = playground.revisions('shop')[0]?.name as string;
  const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
  const dir = tempDir();
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: dir } },
    cloud_run: { endpoint, insecure: true },
    monitoring: { endpoint, insecure: true },
    services: [
      {
        name: 'shop',
        project: 'alerts-project',
        region: 'europe-west1',
        service: 'shop',
        poll_interval: '200ms',
        probe_interval: '1s',
        pre_deploy_backup: false,
        mode,
        // The watch has no rule of its own: only alerts roll back here.
        rules: [],
      },
    ],
    // The flood below is about single flight, so the whole of it is handled at once; the in-flight
    // cap (503 past it) has its own test.
    alerts: { bearer_token: TOKEN, max_concurrent_requests: 1024 },
  });
  knownGoodInStore(config.state_dir, 'shop', good);
  const daemon: RunningDaemon = await startDaemon(config, silent);
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  const rollbacks: string[] = [];
  daemon.context.events.on('rollback:completed', (event) =>
    rollbacks.push(`${event.trigger}:${event.to}${event.dryRun ? ' (dry run)' : ''}`),
  );
  await waitFor(
    () => (daemon.context.events && stableOf(daemon) === good ? true : undefined),
    'the baseline to be adopted',
    pollDeadline(config),
  );
  const bad = await playground.deploy('shop', { behaviour: 'errors' });
  return { playground, daemon, base: `http://${daemon.address}`, good, bad, rollbacks, config };
}

function stableOf(daemon: RunningDaemon): string | null | undefined {
  return daemon.context.store.services.get('shop')?.stableRevision;
}

function serving(playground: Playground) {
  return playground.traffic('shop').filter((entry) => entry.percent > 0);
}

describe('alert receivers in the daemon', () => {
  it('turn a flood of 1,000 concurrent firing alerts into exactly one rollback of the emulated service', async () => {
    const { playground, daemon, base, good, rollbacks } = await start();
    const agent = new Agent({ connections: 100 });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 1000 }, async (_, index) => {
          const payload = alertmanagerPayload([
            {
              labels: { service: 'shop', runwarden_action: 'rollback', replica: String(index) },
              fingerprint: `f${index}`,
            },
          ]);
          const response = await undiciFetch(`${base}/v1/alerts/alertmanager`, {
            method: 'POST',
            headers: { authorization: BEARER, 'content-type': 'application/json' },
            body: JSON.stringify(payload),
            dispatcher: agent,
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      expect(statuses.every((status) => status === 200)).toBe(true);
    } finally {
      await agent.close();
    }
    expect(rollbacks).toEqual([`alert:${good}`]);
    expect(serving(playground)).toMatchObject([{ revision: good, percent: 100 }]);
    const text = await daemon.context.metrics.registry.metrics();
    expect(
      sample(text, 'runwarden_rollbacks_total', { service: 'shop', trigger: 'alert', result: 'completed' }),
    ).toBe(1);
    const counted = ['rolled_back', 'coalesced', 'cooldown', 'refused'].map(
      (outcome) => sample(text, 'runwarden_alerts_received_total', { source: 'alertmanager', outcome }) ?? 0,
    );
    // One rolled back; the rest joined it while it ran or met the cooldown after; none was refused.
    expect(counted.reduce((sum, count) => sum + count, 0)).toBe(1000);
    expect(counted).toEqual([1, expect.any(Number), expect.any(Number), 0]);
  });

  it('refuses without credentials in the daemon too, and nothing moves', async () => {
    const { playground, base, bad, rollbacks } = await start();
    const payload = alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]);
    expect((await post(base, '/v1/alerts/alertmanager', payload)).status).toBe(401);
    expect(
      (await post(base, '/v1/alerts/alertmanager', payload, 'Bearer wrong-token-0123456789')).status,
    ).toBe(401);
    expect((await post(base, '/v1/backups', { reason: 'pre-deploy' })).status).toBe(401);
    expect(rollbacks).toEqual([]);
    expect(serving(playground)).toMatchObject([{ revision: bad, percent: 100 }]);
  });

  it('honours a service in dry-run: the alert is answered, traffic stays', async () => {
    const { playground, base, bad, good, rollbacks } = await start('dry-run');
    const payload = alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]);
    const response = await post(base, '/v1/alerts/alertmanager', payload, BEARER);
    expect(response.status).toBe(200);
    expect(response.body.alerts).toMatchObject([{ outcome: 'dry_run', to_revision: good }]);
    expect(rollbacks).toEqual([`alert:${good} (dry run)`]);
    expect(serving(playground)).toMatchObject([{ revision: bad, percent: 100 }]);
  });

  it('remembers an alert it acted on across a restart: its repeat is a duplicate, even with a newer deploy watched', async () => {
    const { playground, daemon, base, good, config } = await start();
    const payload = (fingerprint: string) =>
      alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' }, fingerprint }]);
    const first = await post(base, '/v1/alerts/alertmanager', payload('restart-first'), BEARER);
    expect(first.body.alerts).toMatchObject([{ outcome: 'rolled_back', to_revision: good }]);
    await daemon.stop('restart');
    const again = await startDaemon(config, silent);
    cleanups.push(async () => {
      await again.stop('test end');
    });
    const newer = await playground.deploy('shop', { behaviour: 'errors' });
    await waitFor(
      () => (again.context.store.watches.open('shop')?.candidate === newer ? true : undefined),
      'the restarted daemon to watch the newer deploy',
      pollDeadline(config),
    );
    const repeat = await post(
      `http://${again.address}`,
      '/v1/alerts/alertmanager',
      payload('restart-first'),
      BEARER,
    );
    expect(repeat.body.alerts).toMatchObject([{ outcome: 'duplicate' }]);
    expect(serving(playground)).toMatchObject([{ revision: newer, percent: 100 }]);
    // A new alert does act on the newer deploy: the repeat was held back by its claim alone.
    const other = await post(
      `http://${again.address}`,
      '/v1/alerts/alertmanager',
      payload('restart-other'),
      BEARER,
    );
    expect(other.body.alerts).toMatchObject([{ outcome: 'rolled_back', to_revision: good }]);
  });

  it('keeps WAL checkpoints out of its store commits: claims past 1,000 WAL pages leave the database file as it was', async () => {
    const { daemon } = await start();
    const store = daemon.context.store;
    const digest = () => createHash('sha256').update(readFileSync(store.file)).digest('hex');
    // Synchronous from digest to digest: the daemon's idle checkpoint (a timer) cannot run between,
    // so only a checkpoint inside a commit could change the file.
    const before = digest();
    for (let index = 0; index < 400; index += 1)
      store.alerts.claim(
        {
          source: 'alertmanager',
          name: 'Filler',
          fingerprint: `filler${index}`,
          dedupeKey: `alertmanager:filler${index}`,
          status: 'firing',
          labels: { padding: 'x'.repeat(16_384) },
          startsAt: 0,
          summary: '',
        },
        'shop',
        new Date(),
      );
    expect(digest()).toBe(before);
    expect(store.checkpoint().walPages).toBeGreaterThan(1_000);
  });
});
