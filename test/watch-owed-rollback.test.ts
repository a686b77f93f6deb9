import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { manualPromote } from '../src/watch/manual-promote.js';
import { probeJob } from '../src/watch/probe-job.js';
import { requestRollback } from '../src/watch/rollback.js';
import { serviceStatuses } from '../src/watch/status.js';
import { tickService } from '../src/watch/watch-tick.js';
import { actionDeadline, watchDeadline } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { type Harness, servedBy, useWatchHarness } from './helpers/watch-harness.js';

/**
 * A rollback decided and sent, but cut short before Cloud Run applied it (the daemon stopped past
 * its grace period): recorded as owed, and settled first by the next start. These run the daemon's
 * tick in-process; test/shutdown.test.ts proves the same with the built daemon and SIGTERM.
 */
const { ready, signal } = useWatchHarness('runwarden-owed-');

/**
 * Deploys a revision whose /health fails, lets the watch decide to roll it back with UpdateService
 * held by the emulator, aborts the tick while the update is in flight (a stop past the grace
 * period: Cloud Run applies nothing), and restarts on the same store. Returns the bad revision.
 */
async function strandRollback(h: Harness): Promise<string> {
  const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
  await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
  h.playground.injectFault('UpdateService', { delayMs: 60_000 });
  const stop = new AbortController();
  const service = h.runtime.services[0]!;
  const ticking = (async () => {
    while (!stop.signal.aborted) {
      await probeJob(h.runtime, service, () => {})
        .runOnce(stop.signal)
        .catch(() => undefined);
      await tickService(h.runtime, service, stop.signal).catch(() => undefined);
      await delay(service.config.poll_interval);
    }
  })();
  await waitFor(
    () => (h.playground.pendingFaults().UpdateService === undefined ? true : undefined),
    "the rollback's UpdateService call to be in flight",
    watchDeadline(h.config),
  );
  expect(h.runtime.store.owed.get('shop')).toMatchObject({ trigger: 'watch', from: [v2], rule: 'health' });
  stop.abort();
  await ticking;
  expect(servedBy(h)).toEqual({ [v2]: 100 });
  await h.closeRuntime();
  await h.reopen();
  return v2;
}

function named(h: Harness, name: string) {
  return h.seen
    .filter((entry) => entry.name === name)
    .map((entry) => entry.payload as Record<string, unknown>);
}

describe('an owed rollback on the next start', () => {
  it('is carried out first even within the cooldown, and status shows it until then', async () => {
    const { h, v1 } = await ready();
    const v2 = await strandRollback(h);
    const [status] = serviceStatuses(h.runtime.services, h.runtime.store);
    expect(status?.owed_rollback).toMatchObject({ to: v1, from: [v2], trigger: 'watch' });
    // An automatic rollback just happened (say): a fresh decision would be refused for the cooldown,
    // but this one was decided before it and is only being finished.
    h.runtime.store.services.setLastAutoRollback('shop', Date.now());
    const completed = await h.runUntilEvent('rollback:completed', (event) => !event.dryRun);
    expect(completed).toMatchObject({
      to: v1,
      from: [v2],
      trigger: 'watch',
      rule: 'health',
      confirmed: true,
    });
    expect(completed.reason).toContain('not confirmed until now');
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    expect(h.runtime.store.watches.recent('shop', 1)[0]).toMatchObject({
      candidate: v2,
      status: 'rolled_back',
    });
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
    expect(named(h, 'rollback:refused')).toEqual([]);
    expect(serviceStatuses(h.runtime.services, h.runtime.store)[0]?.owed_rollback).toBeNull();
  });

  it('frozen: holds, says so once, changes nothing; carried out once unfrozen', async () => {
    const { h, v1 } = await ready();
    const v2 = await strandRollback(h);
    h.runtime.store.services.setFrozen('shop', true, 'maintenance', Date.now());
    const held = await h.runUntilEvent('watch:held', (event) => event.reason.includes('owed'));
    expect(held).toMatchObject({ candidate: v2, wouldDo: 'rollback' });
    // A few more ticks: still held, said once, nothing sent.
    let ticks = 0;
    await h.runUntil(() => ++ticks > 3);
    expect(named(h, 'watch:held').filter((event) => String(event.reason).includes('owed'))).toHaveLength(1);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(h.runtime.store.owed.get('shop')?.to).toBe(v1);
    h.runtime.store.services.setFrozen('shop', false, null, Date.now());
    const completed = await h.runUntilEvent('rollback:completed', (event) => !event.dryRun);
    expect(completed).toMatchObject({ to: v1, from: [v2] });
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
  });

  it("someone else's change meanwhile is never overwritten: the debt is dropped and says why", async () => {
    const { h, v1 } = await ready();
    const v2 = await strandRollback(h);
    // While the daemon was down a person deployed a fix that took all the traffic.
    const v3 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    const refused = await h.runUntilEvent('rollback:refused');
    expect(refused).toMatchObject({ refusal: 'stale', to: v1, candidate: v2 });
    expect(refused.reason).toContain(`now serving ${v3} 100%`);
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
    await h.runUntilEvent('watch:started', (event) => event.candidate === v3);
    expect(servedBy(h)).toEqual({ [v3]: 100 });
    expect(named(h, 'rollback:completed')).toEqual([]);
  });

  it('a person promoting a revision drops the debt', async () => {
    const { h } = await ready();
    const v2 = await strandRollback(h);
    await manualPromote(h.runtime, 'shop', v2, signal());
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
    let ticks = 0;
    await h.runUntil(() => ++ticks > 2);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(named(h, 'rollback:completed')).toEqual([]);
  });

  it('already in effect (the update went through but was never confirmed): recorded, nothing sent again', async () => {
    const { h, v1 } = await ready();
    const v2 = await strandRollback(h);
    await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v1, percent: 100 }]);
    // Any UpdateService call would fail: it must not be made.
    h.playground.injectFault('UpdateService', { code: 'PERMISSION_DENIED' });
    const completed = await h.runUntilEvent('rollback:completed', (event) => !event.dryRun);
    expect(completed).toMatchObject({ to: v1, from: [v2], confirmed: true, trigger: 'watch' });
    expect(h.playground.pendingFaults()).toEqual({ UpdateService: 1 });
    expect(h.runtime.store.watches.recent('shop', 1)[0]).toMatchObject({
      candidate: v2,
      status: 'rolled_back',
    });
    expect(h.runtime.store.revisions.bad('shop').has(v2)).toBe(true);
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
    expect(named(h, 'watch:ended')).toEqual([]);
  });

  it("an alert's rollback cut short is owed too, and the next tick finishes it", async () => {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    await h.runUntil(() => h.runtime.store.services.get('shop')?.snapshot?.serving[v2] === 100);
    h.playground.injectFault('UpdateService', { delayMs: 60_000 });
    const stop = new AbortController();
    const attempt = requestRollback(
      h.runtime,
      { service: 'shop', trigger: 'alert', reason: 'HighErrorRate firing', rule: 'HighErrorRate' },
      stop.signal,
    );
    await waitFor(
      () => (h.playground.pendingFaults().UpdateService === undefined ? true : undefined),
      "the alert rollback's UpdateService call to be in flight",
      actionDeadline(h.config),
    );
    stop.abort();
    await expect(attempt).rejects.toThrow();
    expect(h.runtime.store.owed.get('shop')).toMatchObject({
      trigger: 'alert',
      to: v1,
      from: [v2],
      watchId: null,
    });
    await h.closeRuntime();
    await h.reopen();
    const completed = await h.runUntilEvent('rollback:completed', (event) => !event.dryRun);
    expect(completed).toMatchObject({ trigger: 'alert', to: v1, from: [v2], rule: 'HighErrorRate' });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
  });

  it('a rollback in flight in this process is left to finish: the tick does not act on its debt', async () => {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    await h.runUntil(() => h.runtime.store.services.get('shop')?.snapshot?.serving[v2] === 100);
    h.playground.injectFault('UpdateService', { delayMs: 1_500 });
    const attempt = requestRollback(
      h.runtime,
      { service: 'shop', trigger: 'alert', reason: 'HighErrorRate firing', rule: 'HighErrorRate' },
      signal(),
    );
    await waitFor(
      () => (h.playground.pendingFaults().UpdateService === undefined ? true : undefined),
      "the alert rollback's UpdateService call to be in flight",
      actionDeadline(h.config),
    );
    // The watch ticks meanwhile: the debt is there, but so is the rollback paying it.
    expect(h.runtime.store.owed.get('shop')?.trigger).toBe('alert');
    const service = h.runtime.services[0]!;
    await tickService(h.runtime, service, signal());
    await tickService(h.runtime, service, signal());
    expect(await attempt).toEqual({ kind: 'rolled_back', to: v1, from: [v2], confirmed: true });
    expect(named(h, 'rollback:completed')).toHaveLength(1);
    expect(h.runtime.store.owed.get('shop')).toBeUndefined();
    expect(h.runtime.store.services.get('shop')?.actionOwner).toBeNull();
  });
});
