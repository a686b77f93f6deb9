import { describe, expect, it } from 'vitest';
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
