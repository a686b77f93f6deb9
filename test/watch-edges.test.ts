import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { requestRollback } from '../src/watch/rollback.js';
import { keepTraffic, servedBy, useWatchHarness } from './helpers/watch-harness.js';
import { untilTime } from './helpers/wait.js';

const { ready, start, signal } = useWatchHarness('runwarden-watch-');

describe('the watch at its edges', () => {
  it('insufficient data: a candidate nothing reaches gets no verdict; the watch ends unpromoted and says why', async () => {
    const { h, v1 } = await ready({ watch_window: '3s', insufficient_data: 'alert' });
    // No traffic and no tag: neither users nor probes reach it, so there is nothing to judge.
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true });
    const ended = await h.runUntilEvent('watch:ended', (event) => event.status === 'inconclusive');
    expect(ended).toMatchObject({ candidate: v2, stable: v1 });
    const short = h.seen.find((entry) => entry.name === 'watch:insufficient-data')?.payload as {
      policy: string;
      rules: Array<{ rule: string; verdict: string }>;
    };
    expect(short.policy).toBe('alert');
    expect(short.rules.map((rule) => rule.rule)).toEqual(['http_5xx', 'http_503', 'health']);
    expect(h.runtime.store.services.get('shop')?.stableRevision).toBe(v1);
    expect(
      h.seen.some((entry) => entry.name.startsWith('rollback:') || entry.name === 'watch:promoted'),
    ).toBe(false);
  });

  it('keep_waiting: past the deadline the watch waits for data, then judges it', async () => {
    const { h, v1 } = await ready({ watch_window: '2s', insufficient_data: 'keep_waiting' });
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true });
    const waiting = await h.runUntilEvent('watch:insufficient-data');
    expect(waiting).toMatchObject({ candidate: v2, policy: 'keep_waiting' });
    expect(h.runtime.store.watches.open('shop')?.candidate).toBe(v2);
    await h.playground.setTraffic('shop', [
      { type: 'REVISION', revision: v1, percent: 50 },
      { type: 'REVISION', revision: v2, percent: 50 },
    ]);
    const stopTraffic = keepTraffic(h.playground);
    try {
      const promoted = await h.runUntilEvent('watch:promoted');
      expect(promoted).toMatchObject({ candidate: v2, previous: v1 });
    } finally {
      await stopTraffic();
    }
    expect(h.seen.filter((entry) => entry.name === 'watch:started')).toHaveLength(1);
  });

  it('an alert-only rule (CPU, memory) alerts once and never rolls back', async () => {
    const { h } = await ready({ watch_window: '4s' });
    const stopTraffic = keepTraffic(h.playground);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: 'hot' });
      await h.runUntilEvent('watch:promoted', (event) => event.stable === v2);
    } finally {
      await stopTraffic();
    }
    const alerts = h.seen
      .filter((entry) => entry.name === 'watch:alert')
      .map((entry) => (entry.payload as { rule: string }).rule);
    expect(alerts.sort()).toEqual(['cpu', 'memory']);
    expect(h.seen.some((entry) => entry.name.startsWith('rollback:'))).toBe(false);
  });

  it('dry-run: decides, records and announces, but changes nothing', async () => {
    const { h } = await ready({ mode: 'dry-run' });
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ dryRun: true, candidate: v2, from: [v2] });
    await h.runUntilEvent('watch:ended', (event) => event.status === 'would_roll_back');
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(h.runtime.store.revisions.bad('shop').has(v2)).toBe(false);
    expect(h.runtime.store.watches.recent('shop', 1)[0]?.status).toBe('would_roll_back');
  });

  it('a daemon killed mid-watch resumes the same watch from the store', async () => {
    const { h, v1 } = await ready({ watch_window: '3s' });
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const started = await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    await h.closeRuntime();
    // Meanwhile (daemon down) nothing watches; a new daemon opens the same store.
    await h.reopen();
    expect(h.runtime.store.watches.open('shop')?.id).toBe(started.watchId);
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ watchId: started.watchId, to: v1 });
    expect(h.seen.filter((entry) => entry.name === 'watch:started')).toHaveLength(1);
  });

  it('a watch resumed past its deadline probes the candidate before concluding, and promotes it', async () => {
    const { h, v1 } = await ready({ watch_window: '2s' });
    const stopTraffic = keepTraffic(h.playground);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      const started = await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
      await h.closeRuntime();
      // Down past the deadline: the probes the old process took are gone with it.
      await untilTime(started.deadline + h.config.monitoring.alignment_period);
      await h.reopen();
      const promoted = await h.runUntilEvent('watch:promoted');
      expect(promoted).toMatchObject({ watchId: started.watchId, candidate: v2, previous: v1 });
    } finally {
      await stopTraffic();
    }
    expect(h.seen.filter((entry) => entry.name === 'watch:ended')).toEqual([]);
  });

  describe('etag conflicts', () => {
    it('a change someone made meanwhile is never overwritten: decided again on what is there now', async () => {
      const { h, v1 } = await ready();
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
      const read = await h.runtime.cloudRun.getService(h.runtime.services[0]!.ref, signal());
      // Someone deploys v3 after runwarden read the service and before its update lands.
      const v3 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      const outcome = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'alert', reason: 'test alert', known: read },
        signal(),
      );
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'stale' });
      expect(servedBy(h)).toEqual({ [v3]: 100 });
      const refused = h.seen.find((entry) => entry.name === 'rollback:refused')?.payload;
      expect(refused).toMatchObject({ refusal: 'stale', to: v1 });
    });

    it('when someone already rolled back, the outcome is a no-op', async () => {
      const { h, v1 } = await ready();
      await h.playground.deploy('shop', { behaviour: 'healthy' });
      const read = await h.runtime.cloudRun.getService(h.runtime.services[0]!.ref, signal());
      await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v1, percent: 100 }]);
      const outcome = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'manual', reason: 'by hand', known: read },
        signal(),
      );
      expect(outcome).toEqual({ kind: 'noop', to: v1 });
    });

    it('an unrelated change (same serving revisions) is retried with the new etag', async () => {
      const { h, v1 } = await ready();
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      const read = await h.runtime.cloudRun.getService(h.runtime.services[0]!.ref, signal());
      await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v2, percent: 100, tag: 'green' }]);
      const outcome = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'manual', reason: 'by hand', known: read },
        signal(),
      );
      expect(outcome).toMatchObject({ kind: 'rolled_back', to: v1, from: [v2], confirmed: true });
      const traffic = h.playground.traffic('shop');
      expect(traffic).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ revision: v1, percent: 100 }),
          expect.objectContaining({ revision: v2, percent: 0, tag: 'green' }),
        ]),
      );
    });
  });

  describe('refusals', () => {
    it('without a known good revision it alerts and does not guess', async () => {
      const h = await start({
        scenario: {
          project: 'demo-project',
          region: 'europe-west1',
          services: [
            {
              name: 'shop',
              revisions: [{ name: 'shop-a' }, { name: 'shop-b' }],
              traffic: [
                { revision: 'shop-a', percent: 50 },
                { revision: 'shop-b', percent: 50 },
              ],
            },
          ],
        },
      });
      // First sight of a split: which side is good cannot be told, so nothing is adopted.
      await h.runUntil(() => h.runtime.store.services.get('shop')?.snapshot);
      expect(h.runtime.store.services.get('shop')?.stableRevision).toBeNull();
      const v3 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
      const refused = await h.runUntilEvent('rollback:refused');
      expect(refused).toMatchObject({ refusal: 'no_stable', candidate: v3, stable: null, to: null });
      expect(['health', 'http_503', 'http_5xx']).toContain(refused.rule);
      expect(servedBy(h)).toEqual({ [v3]: 100 });
      const ended = await h.runUntilEvent('watch:ended');
      expect(ended).toMatchObject({ status: 'failed', candidate: v3 });
      expect(h.seen.filter((entry) => entry.name === 'rollback:refused')).toHaveLength(1);
      expect(h.runtime.store.revisions.bad('shop').has(v3)).toBe(true);
      expect(servedBy(h)).toEqual({ [v3]: 100 });
    });

    it('frozen: the watch holds, then acts once unfrozen', async () => {
      const { h, v1 } = await ready();
      h.runtime.store.services.setFrozen('shop', true, 'maintenance', Date.now());
      const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
      const held = await h.runUntilEvent('watch:held');
      expect(held).toMatchObject({ candidate: v2, wouldDo: 'rollback' });
      expect(servedBy(h)).toEqual({ [v2]: 100 });
      h.runtime.store.services.setFrozen('shop', false, null, Date.now());
      const completed = await h.runUntilEvent('rollback:completed');
      expect(completed).toMatchObject({ to: v1 });
    });

    it('another live process acting on the service: busy, nothing sent; a dead holder is taken over', async () => {
      const { h, v1 } = await ready();
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
      await h.runUntil(() => h.runtime.store.services.get('shop')?.snapshot?.serving[v2] === 100);
      const now = Date.now();
      h.runtime.store.services.acquireAction('shop', `cli:${process.ppid}`, now + 60_000, now);
      const busy = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'manual', reason: 'by hand' },
        signal(),
      );
      expect(busy).toMatchObject({ kind: 'refused', reason: 'busy' });
      expect(busy.kind === 'refused' && busy.detail).toContain(`cli:${process.ppid} is changing shop`);
      expect(servedBy(h)).toEqual({ [v2]: 100 });
      // A holder killed mid-action (its pid is gone) does not block anyone until the lease expires.
      const gone = spawnSync(process.execPath, ['-e', '0']).pid;
      h.runtime.store.services.releaseAction('shop', `cli:${process.ppid}`);
      h.runtime.store.services.acquireAction('shop', `daemon:${gone}`, now + 60_000, now);
      const taken = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'manual', reason: 'by hand' },
        signal(),
      );
      expect(taken).toMatchObject({ kind: 'rolled_back', to: v1 });
      expect(h.runtime.store.services.get('shop')?.actionOwner).toBeNull();
    });

    it('cooldown: a second automatic rollback soon after is refused, a person can still roll back', async () => {
      const { h, v1 } = await ready();
      const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
      await h.runUntilEvent('rollback:completed');
      await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v2, percent: 100 }]);
      const alert = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'alert', reason: 'alert' },
        signal(),
      );
      expect(alert).toMatchObject({ kind: 'refused', reason: 'cooldown' });
      const manual = await requestRollback(
        h.runtime,
        { service: 'shop', trigger: 'manual', reason: 'by hand' },
        signal(),
      );
      expect(manual).toMatchObject({ kind: 'rolled_back', to: v1 });
    });
  });
});
