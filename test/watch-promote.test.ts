import { describe, expect, it } from 'vitest';
import { keepTraffic, useWatchHarness } from './helpers/watch-harness.js';

const { ready } = useWatchHarness('runwarden-watch-');

describe('a healthy deploy', () => {
  it('is watched against the stable revision and promoted when the window passes clean', async () => {
    const { h, v1 } = await ready();
    const stopTraffic = keepTraffic(h.playground);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      const started = await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
      expect(started).toMatchObject({ service: 'shop', candidate: v2, stable: v1, dryRun: false });
      const promoted = await h.runUntilEvent('watch:promoted', (event) => event.stable === v2);
      expect(promoted).toMatchObject({ candidate: v2, previous: v1, trigger: 'watch' });
    } finally {
      await stopTraffic();
    }
    expect(h.runtime.store.services.get('shop')?.stableRevision).toBe(
      h.playground.revisions('shop')[0]?.name,
    );
    const watch = h.runtime.store.watches.recent('shop', 1)[0]!;
    expect(watch.status).toBe('promoted');
    const evaluations = h.runtime.store.evaluations.forWatch(watch.id, 500);
    expect(evaluations.some((entry) => entry.rule === 'http_5xx' && entry.verdict === 'healthy')).toBe(true);
    expect(evaluations.find((entry) => entry.rule === 'http_5xx')?.query).toContain('request_count');
    expect(h.runtime.store.history.list({ service: 'shop', limit: 50 }).map((entry) => entry.kind)).toEqual(
      expect.arrayContaining(['watch:started', 'watch:promoted']),
    );
  });
});
