import { describe, expect, it } from 'vitest';
import { latencyPercentile, mergeLatencies } from '../src/core/latency.js';
import { startPlayground } from '../src/playground/index.js';
import { CloudMonitoring } from '../src/signals/cloud-monitoring.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import type { RunwardenEvents } from '../src/events/event-bus.js';
import { guardService } from '../src/watch/guard-tick.js';
import { probeJob } from '../src/watch/probe-job.js';
import { tickService } from '../src/watch/watch-tick.js';
import { watchDeadline } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { type Harness, keepTraffic, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { ready, signal } = useWatchHarness('runwarden-latency-');

/** The emulated revision answers this late; the rules' threshold sits well below it. */
const SLOW = { latencyMs: 400 };
const P95 = {
  name: 'slow_p95',
  signal: 'latency',
  percentile: 95,
  threshold: '200ms',
  window: '2s',
  min_requests: 10,
};
const HEALTH = { name: 'health', signal: 'health', threshold: 3 };

/** Probe, tick and guard passes, as the daemon runs them, until `name` (matching `match`) is emitted. */
function guardUntilEvent<K extends keyof RunwardenEvents & string>(
  h: Harness,
  name: K,
  match: (payload: RunwardenEvents[K]) => boolean = () => true,
): Promise<RunwardenEvents[K]> {
  const service = h.runtime.services[0]!;
  return waitFor(
    async () => {
      const found = h.seen.find((entry) => entry.name === name && match(entry.payload as never));
      if (found) return found.payload as RunwardenEvents[K];
      await probeJob(h.runtime, service, () => {}).runOnce(signal());
      await tickService(h.runtime, service, signal());
      await guardService(h.runtime, service, signal());
      return undefined;
    },
    `the event ${name}`,
    watchDeadline(h.config),
    { every: h.config.services[0]!.poll_interval },
  );
}

describe('request latencies through the real Monitoring client', () => {
  it('the emulator records how long each request took; the adapter reads the buckets of every code', async () => {
    const playground = await startPlayground(
      {
        project: 'demo-project',
        region: 'europe-west1',
        services: [{ name: 'shop', revisions: [{ behaviour: { latencyMs: 150, errorRate: 0.2 } }] }],
      },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const monitoring = new CloudMonitoring({
      endpoint,
      insecure: true,
      alignment_period: 1_000,
      reporting_delay: 1_000,
    } as never);
    try {
      const revision = playground.revisions('shop')[0]!.name;
      const target = { project: 'demo-project', region: 'europe-west1', service: 'shop', revision };
      const served = await playground.driveTraffic('shop', { rps: 50, durationMs: 400 });
      const read = await waitFor(
        async () => {
          const end = Math.floor(Date.now() / 1_000) * 1_000;
          const result = await monitoring.latencies(
            target,
            { start: end - 30_000, end },
            1_000,
            AbortSignal.timeout(10_000),
          );
          const merged = mergeLatencies(result.items);
          return merged.ok && merged.merged.count >= served.sent
            ? { result, merged: merged.merged }
            : undefined;
        },
        'every request to be reported',
        {
          ms: SLOWDOWN * 5_000,
          basis: `${SLOWDOWN} x (sample period + ingestion delay + drive), with margin`,
        },
        { every: 100 },
      );
      // 500s and 200s alike were slow: their buckets are summed into one distribution per minute.
      expect(read.merged.count).toBe(served.sent);
      expect(read.result.query).toContain('run.googleapis.com/request_latencies');
      const p50 = latencyPercentile(read.merged, 0.5)!;
      expect(p50.value).toBeGreaterThanOrEqual(150 / 1.4);
      expect(p50.atLeast).toBe(false);
    } finally {
      await monitoring.close();
      await playground.stop();
    }
  });
});

describe('latency rules on the emulator', () => {
  it('a slow deploy trips the watch’s p95 latency rule and is rolled back', async () => {
    const { h, v1 } = await ready({ rules: [P95, HEALTH], watch_window: '10s' });
    const stopTraffic = keepTraffic(h.playground);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: SLOW });
      const completed = await h.runUntilEvent('rollback:completed');
      expect(completed).toMatchObject({
        trigger: 'watch',
        rule: 'slow_p95',
        from: [v2],
        to: v1,
        confirmed: true,
      });
      expect(completed.reason).toMatch(/p95 latency [\d.]+m?s over \d+ requests in 2s > 200ms/);
      expect(servedBy(h)).toEqual({ [v1]: 100 });
      const stored = h.runtime.store.evaluations
        .allForWatch(h.runtime.store.watches.recent('shop', 1)[0]!.id)
        .find((entry) => entry.rule === 'slow_p95' && entry.verdict === 'unhealthy');
      expect(stored?.value).toBeGreaterThan(200);
    } finally {
      await stopTraffic();
    }
  });

  it('the guard’s latency rule rolls a promoted revision back when it turns slow', async () => {
    const { h, v1 } = await ready({ rules: [HEALTH], guard: { rules: [P95], interval: '200ms' } });
    const stopTraffic = keepTraffic(h.playground);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      await h.runUntilEvent('watch:promoted', (event) => event.stable === v2);
      h.playground.setBehaviour(v2, SLOW);
      const completed = await guardUntilEvent(h, 'rollback:completed');
      expect(completed).toMatchObject({ trigger: 'guard', rule: 'slow_p95', from: [v2], to: v1 });
      expect(completed.reason).toContain(`guard on ${v2}: slow_p95: p95 latency`);
      expect(servedBy(h)).toEqual({ [v1]: 100 });
    } finally {
      await stopTraffic();
    }
  });

  it('too few requests for the percentile is insufficient data: the slow revision is not judged', async () => {
    // p99 keeps its default minimum (500 requests in the window); 10 requests a second give ~20.
    const p99 = { name: 'slow_p99', signal: 'latency', percentile: 99, threshold: '200ms', window: '2s' };
    const { h, v1 } = await ready({ rules: [HEALTH], guard: { rules: [p99], interval: '200ms' } });
    h.playground.setBehaviour(v1, SLOW);
    const stopTraffic = keepTraffic(h.playground, 10);
    try {
      const service = h.runtime.services[0]!;
      const judged = await waitFor(
        async () => {
          await guardService(h.runtime, service, signal());
          const newest = h.runtime.store.evaluations.forGuard('shop', 1)[0];
          return newest && (newest.raw as { requests?: number }).requests ? newest : undefined;
        },
        'a guard evaluation that saw requests',
        watchDeadline(h.config),
        { every: h.config.services[0]!.poll_interval },
      );
      expect(judged).toMatchObject({
        rule: 'slow_p99',
        verdict: 'insufficient_data',
        value: null,
        taken: 'none',
      });
      expect(judged.detail).toMatch(/^\d+ requests in 2s < minimum 500 for p99$/);
      expect(h.seen.some((entry) => entry.name.startsWith('rollback:') || entry.name === 'watch:alert')).toBe(
        false,
      );
      expect(servedBy(h)).toEqual({ [v1]: 100 });
    } finally {
      await stopTraffic();
    }
  });
});
