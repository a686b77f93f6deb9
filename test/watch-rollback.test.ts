import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { executeRollback } from '../src/watch/rollback-execute.js';
import { planFor } from '../src/watch/rollback-plan-for.js';
import type { RollbackRequest } from '../src/watch/rollback-request.js';
import { predeploy } from '../src/watch/predeploy.js';
import { pollDeadline, WORK_BACKSTOP } from './helpers/deadlines.js';
import { plus } from './helpers/wait.js';
import { keepTraffic, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { ready } = useWatchHarness('runwarden-watch-');

describe('rolling back a bad deploy', () => {
  it('a deploy answering 5xx is rolled back, and the users get the stable revision again', async () => {
    const { h, v1 } = await ready();
    const stopTraffic = keepTraffic(h.playground);
    let v2 = '';
    try {
      v2 = await h.playground.deploy('shop', { behaviour: 'errors' });
      const completed = await h.runUntilEvent('rollback:completed');
      expect(completed).toMatchObject({
        service: 'shop',
        candidate: v2,
        stable: v1,
        trigger: 'watch',
        from: [v2],
        to: v1,
        confirmed: true,
        dryRun: false,
        probe: { ok: true, status: 200 },
      });
      expect(completed.rule).toMatch(/^http_5/);
      expect(completed.restorePoint.source).toBe('watch_start');
      expect(completed.restorePoint.schemaChanged).toBe(false);
      const started = h.seen.findIndex((entry) => entry.name === 'rollback:started');
      const done = h.seen.findIndex((entry) => entry.name === 'rollback:completed');
      expect(started).toBeGreaterThan(-1);
      expect(started).toBeLessThan(done);
    } finally {
      await stopTraffic();
    }
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    const users = await h.playground.driveTraffic('shop', { rps: 50, durationMs: 400 });
    expect(Object.keys(users.byRevision)).toEqual([v1]);
    expect(users.byCode).toEqual({ 200: users.sent });
    const store = h.runtime.store;
    expect(store.revisions.bad('shop').has(v2)).toBe(true);
    expect(store.watches.recent('shop', 1)[0]).toMatchObject({ candidate: v2, status: 'rolled_back' });
    expect(store.services.get('shop')).toMatchObject({ stableRevision: v1 });
    const taken = store.evaluations.forWatch(store.watches.recent('shop', 1)[0]!.id, 200);
    expect(taken.some((entry) => entry.taken === 'rollback' && entry.verdict === 'unhealthy')).toBe(true);
  });

  it('a 503 burst trips the 503 rule', async () => {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: { unavailableRate: 0.5 } });
    const burst = await h.playground.driveTraffic('shop', { rps: 40, durationMs: 250 });
    expect(burst.byCode['503']).toBeGreaterThan(1);
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ from: [v2], to: v1 });
    expect(h.runtime.store.watches.recent('shop', 1)[0]?.tripped).toContain('http_503');
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('a revision whose /health fails three times in a row is rolled back without any metrics', async () => {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ rule: 'health', candidate: v2, to: v1 });
    expect(completed.reason).toContain('failed probes in a row');
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('an API fault during the rollback is retried, then the rollback succeeds', async () => {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    h.playground.injectFault('UpdateService', { code: 'UNAVAILABLE', times: 2 });
    h.playground.injectFault('GetOperation', { code: 'UNAVAILABLE', times: 1 });
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ to: v1, confirmed: true });
    expect(h.playground.pendingFaults()).toEqual({});
    expect(h.seen.some((entry) => entry.name === 'rollback:failed')).toBe(false);
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('an API that keeps failing makes the rollback fail loudly, and the next tick tries again', async () => {
    const { h, v1 } = await ready({});
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    h.playground.injectFault('UpdateService', { code: 'PERMISSION_DENIED', times: 1 });
    const failed = await h.runUntilEvent('rollback:failed');
    expect(failed).toMatchObject({ candidate: v2, to: v1, error: { code: 'RW_CLOUDRUN_DENIED' } });
    expect(h.runtime.store.watches.open('shop')?.tripped).toContain('health');
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed).toMatchObject({ to: v1 });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('a rollback that fails while the store fails too is still announced as rollback:failed', async () => {
    // No backup in the background: only the rollback meets the failing store.
    const { h, v1 } = await ready({ pre_deploy_backup: false });
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    const rt = h.runtime;
    const service = rt.services[0]!;
    const signal = AbortSignal.timeout(pollDeadline(h.config).ms);
    const observation = await rt.cloudRun.getService(service.ref, signal);
    const request: RollbackRequest = { service: 'shop', trigger: 'manual', reason: 'a person asked' };
    const plan = planFor(rt, service, request, observation);
    expect(plan).toMatchObject({ kind: 'update', to: v1, from: [v2] });
    // Cloud Run refuses the change, and by then runwarden's own store cannot be read either (its
    // disk failed): the restore point cannot be computed, the failure must still be announced.
    h.playground.injectFault('UpdateService', { code: 'PERMISSION_DENIED', times: 1 });
    h.store.close();
    const failed = h.events.next('rollback:failed');
    await expect(
      executeRollback(
        rt,
        service,
        request,
        plan as Extract<typeof plan, { kind: 'update' }>,
        observation,
        signal,
      ),
    ).rejects.toMatchObject({ code: 'RW_CLOUDRUN_DENIED' });
    await expect(failed).resolves.toMatchObject({
      service: 'shop',
      trigger: 'manual',
      from: [v2],
      to: v1,
      error: { code: 'RW_CLOUDRUN_DENIED' },
      restorePoint: { source: 'none', backup: null, schemaChanged: null },
    });
    expect((await failed).restorePoint.note).toMatch(/^restore point unknown: /);
  });

  it('names the predeploy backup as the restore point and says the schema changed since', async () => {
    const { h, v1 } = await ready();
    // A backup (waiting at most lock_wait for the lock, then the test's small data) and a poll.
    const bound = plus(
      { ms: h.config.backup.lock_wait, basis: 'backup.lock_wait' },
      WORK_BACKSTOP,
      pollDeadline(h.config),
    );
    const taken = await predeploy(h.runtime, 'shop', AbortSignal.timeout(bound.ms));
    expect(taken).toMatchObject({ service: 'shop', stable: v1 });
    expect(taken.record.backupFile).toMatch(/backup_completo_\d{8}_\d{6}\.zip$/);
    // The new revision migrates the database, then fails.
    const app = new Database(h.mainDb);
    app.exec(
      "CREATE TABLE shop_order (id INTEGER PRIMARY KEY); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_order', 'now')",
    );
    app.close();
    await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const completed = await h.runUntilEvent('rollback:completed');
    expect(completed.restorePoint).toMatchObject({
      source: 'predeploy',
      backup: taken.record.backupFile,
      schemaChanged: true,
    });
    expect(completed.restorePoint.schemaDetail).toContain('shop.0002_order');
  });
});
