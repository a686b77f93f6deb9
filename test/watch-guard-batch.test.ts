import { describe, expect, it } from 'vitest';
import type { RunwardenEvents } from '../src/events/event-bus.js';
import { guardService } from '../src/watch/guard-tick.js';
import { tickService } from '../src/watch/watch-tick.js';
import { watchDeadline } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { type Harness, keepTraffic, useWatchHarness } from './helpers/watch-harness.js';

const { start, signal } = useWatchHarness('runwarden-guard-batch-');

const SERVICES = ['shop', 'cart', 'deli'] as const;

/** Requests, CPU and memory on the guard: three metric reads a service a pass, and no probes needed. */
const GUARD = {
  rules: [{ name: 'health', signal: 'health', threshold: 3 }],
  guard: {
    interval: '200ms',
    rules: [
      { name: 'http_5xx', signal: 'requests', response_code_class: '5xx', threshold: 5, window: '3s' },
      { name: 'cpu', signal: 'cpu', threshold: 0.9, window: '3s', action: 'alert' },
      { name: 'memory', signal: 'memory', threshold: 0.9, window: '3s', action: 'alert' },
    ],
  },
};

/** Each service's serving revision as known good from earlier history, as the watch finds it. */
function knownGood(h: Harness): void {
  const now = h.runtime.clock();
  h.store.transaction(() => {
    for (const service of SERVICES) {
      const serving = h.playground.traffic(service).find((entry) => entry.percent === 100)!.revision;
      h.store.services.setStable(service, serving, 'baseline', now);
      h.store.knownGood.append(service, serving, 'baseline', now);
    }
  });
}

describe('the guard of many services reads Monitoring in batches', () => {
  it('the passes of one turn read each metric of every service in one ListTimeSeries; each service is judged on its own revision', async () => {
    const h = await start({
      scenario: {
        project: 'demo-project',
        region: 'europe-west1',
        services: [
          { name: 'shop' },
          { name: 'cart', revisions: [{ behaviour: { cpu: 0.97 } }] },
          { name: 'deli' },
        ],
      },
      alsoWatch: ['cart', 'deli'],
      service: GUARD,
    });
    knownGood(h);
    const stops = SERVICES.map((service) => keepTraffic(h.playground, 20, service));
    try {
      const services = h.runtime.services;
      expect(services.map((service) => service.key)).toEqual([...SERVICES]);
      // The guard reads the service as the watch's tick last polled it.
      await Promise.all(services.map((service) => tickService(h.runtime, service, signal())));
      const perPass: number[] = [];
      const alert = await waitFor(
        async () => {
          const before = h.playground.apiCalls().ListTimeSeries ?? 0;
          // As the scheduler fires them: every service's guard pass in the same turn.
          await Promise.all(services.map((service) => guardService(h.runtime, service, signal())));
          perPass.push((h.playground.apiCalls().ListTimeSeries ?? 0) - before);
          const found = h.seen.find(
            (entry) =>
              entry.name === 'watch:alert' &&
              (entry.payload as RunwardenEvents['watch:alert']).rule === 'cpu',
          );
          return found?.payload as RunwardenEvents['watch:alert'] | undefined;
        },
        'the CPU alert of cart',
        watchDeadline(h.config),
        { every: 200 },
      );
      // Requests, CPU and memory: one call each for the three services, not one per service.
      expect(perPass).toEqual(perPass.map(() => 3));
      expect(alert).toMatchObject({ service: 'cart', rule: 'cpu' });
      expect(
        h.seen
          .filter((entry) => entry.name === 'watch:alert')
          .map((entry) => (entry.payload as { service: string }).service),
      ).toEqual(['cart']);
      expect(h.seen.filter((entry) => entry.name === 'watch:failure')).toEqual([]);
    } finally {
      await Promise.all(stops.map((stop) => stop()));
    }
  });
});
