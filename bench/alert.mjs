// 6. Alert to action: Alertmanager webhook deliveries (each incident delivered several times, as an
// HA pair and repeat notifications do) to the daemon; from the first delivery being sent to the
// UpdateService arriving at the emulator, and how many rollbacks each incident caused.
import path from 'node:path';
import { latest } from './rollback.mjs';
import {
  attribution,
  emulatedUnavailable,
  emulatorSampler,
  observeWithPriority,
  startDaemon,
  startEmulator,
  TOKEN,
  waitFor,
} from './lib/emulated.mjs';
import { percentile } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '6. Alert to action';
// Per incident: the first delivery and an HA peer's copy at once, then two repeats after the rollback.
const DELIVERIES_PER_INCIDENT = 4;

export const alert = {
  id: 'alert',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'webhook sent to UpdateService sent p50', unit: 'ms' },
    { bench: BENCH, metric: 'webhook sent to UpdateService sent p99', unit: 'ms', target: { max: 20 } },
    {
      bench: BENCH,
      metric: 'incidents with exactly one rollback',
      unit: 'count',
      target: { ratioEquals: 1 },
    },
  ],
  unavailable: () => emulatedUnavailable(['watch', 'alerts']),
  async run(ctx) {
    // 200 incidents: a p99 of 200 samples is not simply the worst one.
    const incidents = ctx.quick ? 2 : 200;
    const playground = await startEmulator(['shop']);
    const stable = playground.revisions('shop')[0].name;
    // Long probe and poll intervals: the alert, not the watch, is what acts here.
    const daemon = await startDaemon(path.join(ctx.work, 'alert'), playground, ['shop'], {
      probeMs: 60_000,
      pollMs: 1_000,
    }).catch(async (error) => {
      await playground.stop();
      throw error;
    });
    const sampler = emulatorSampler(playground, [daemon.pid, process.pid]);
    let restorePriority = () => {};
    const windows = [];
    const latency = [];
    const rollbacks = [];
    const statuses = new Map();
    const post = async (body) => {
      const response = await fetch(`${daemon.base}/v1/alerts/alertmanager`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    };
    try {
      restorePriority = observeWithPriority();
      // The stable revision is known good from earlier history (startDaemon); wait for the first poll.
      await waitFor(() => daemon.history.polled() >= 1, 30_000, 'the first poll', 100);
      let seen = { id: 0 };
      for (let incident = 0; incident < incidents; incident++) {
        ctx.log(`alert incident ${incident + 1}/${incidents}`);
        const candidate = await playground.deploy('shop', { behaviour: 'healthy' });
        seen = await latest(daemon, 'watch:started', (row) => row.detail.candidate === candidate, seen.id);
        const body = JSON.stringify(payload(incident));
        const before = sampler.calls.length;
        const received = sampler.updateCalls();
        const onStable = sampler.allOn('shop', stable);
        const sentAt = performance.timeOrigin + performance.now();
        await Promise.all([post(body), post(body)]);
        await onStable;
        for (let repeat = 2; repeat < DELIVERIES_PER_INCIDENT; repeat++) await post(body);
        // Room for a wrong second rollback to show before the next incident's deploy.
        await delay(300);
        const calls = sampler.calls.slice(before);
        rollbacks.push(sampler.updateCalls() - received);
        if (calls[0] !== undefined) {
          latency.push(calls[0] - sentAt);
          windows.push({ ms: calls[0] - sentAt, sched: sampler.sched(sentAt, calls[0]) });
        }
      }
    } finally {
      restorePriority();
      sampler.stop();
      daemon.history.close();
      await daemon.stop();
      await playground.stop();
    }
    const exact = rollbacks.filter((count) => count === 1).length;
    ctx.note(
      BENCH,
      `${incidents} incidents × ${DELIVERIES_PER_INCIDENT} deliveries = ${incidents * DELIVERIES_PER_INCIDENT} (two at once, two after the rollback), bearer auth, each after a fresh deploy; ` +
        `responses by status: ${[...statuses].map(([code, count]) => `${code}: ${count}`).join(', ')}; UpdateService calls per incident: ${rollbacks.join(' ')}. ` +
        `Latency is from the client sending the first delivery (loopback) to UpdateService arriving at the emulator, as it recorded the call (the sampler, every ${sampler.periodMs} ms, only waits for the traffic and reads /proc schedstat); per incident: ${latency.map((v) => format(v, 'ms')).join(', ')}.` +
        attribution(windows, 'delivery'),
    );
    const target = (value) => ({ value, baseline: 20, baselineName: 'target', runs: latency.length });
    return [
      figure({ ...this.metrics[0], ...target(percentile(latency, 50)) }),
      figure({ ...this.metrics[1], ...target(percentile(latency, 99)) }),
      figure({
        ...this.metrics[2],
        value: exact,
        baseline: incidents,
        baselineName: 'incidents',
        runs: incidents,
      }),
    ];
  },
};

function payload(incident) {
  const labels = {
    alertname: 'ShopErrors',
    service: 'shop',
    runwarden_action: 'rollback',
    incident: String(incident),
  };
  return {
    version: '4',
    status: 'firing',
    receiver: 'runwarden',
    groupKey: `{}:{alertname="ShopErrors",incident="${incident}"}`,
    truncatedAlerts: 0,
    groupLabels: { alertname: 'ShopErrors' },
    commonLabels: labels,
    commonAnnotations: { summary: 'shop is failing' },
    externalURL: 'http://alertmanager.invalid',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary: 'shop is failing' },
        startsAt: new Date(Date.UTC(2024, 0, 1, 0, 0, incident)).toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.invalid/graph',
        fingerprint: `bench${String(incident).padStart(11, '0')}`,
      },
    ],
  };
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
