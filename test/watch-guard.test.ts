import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { watchRollbackAdapter } from '../src/app/alert-rollback.js';
import type { RunwardenEvents } from '../src/events/event-bus.js';
import { guardService } from '../src/watch/guard-tick.js';
import { manualRollback } from '../src/watch/manual-rollback.js';
import { probeJob } from '../src/watch/probe-job.js';
import { requestRollback } from '../src/watch/rollback.js';
import { serviceStatuses } from '../src/watch/status.js';
import { tickService } from '../src/watch/watch-tick.js';
import { watchDeadline } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { type Harness, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { ready, signal } = useWatchHarness('runwarden-guard-');

const HOUR = 3_600_000;

/** Health alone, for the watch and the guard: deploys promote without traffic, and trip at will. */
const HEALTH_ONLY = {
  rules: [{ name: 'health', signal: 'health', threshold: 3 }],
  guard: { rules: [{ name: 'health', signal: 'health', threshold: 3 }], interval: '200ms' },
};

async function deployAndPromote(h: Harness): Promise<string> {
  const revision = await h.playground.deploy('shop', { behaviour: 'healthy' });
  await h.runUntilEvent('watch:promoted', (event) => event.stable === revision);
  return revision;
}

/** One probe, tick and guard pass, as the daemon runs them. */
async function onePass(h: Harness): Promise<void> {
  const service = h.runtime.services[0]!;
  await probeJob(h.runtime, service, () => {}).runOnce(signal());
  await tickService(h.runtime, service, signal());
  await guardService(h.runtime, service, signal());
}

/** Probe, tick and guard passes, as the daemon runs them, until `name` (matching `match`) is emitted. */
function guardUntilEvent<K extends keyof RunwardenEvents & string>(
  h: Harness,
  name: K,
  match: (payload: RunwardenEvents[K]) => boolean = () => true,
): Promise<RunwardenEvents[K]> {
  return waitFor(
    async () => {
      const found = h.seen.find((entry) => entry.name === name && match(entry.payload as never));
      if (found) return found.payload as RunwardenEvents[K];
      await onePass(h);
      return undefined;
    },
    `the event ${name}`,
    watchDeadline(h.config),
    { every: h.config.services[0]!.poll_interval },
  );
}

/** The alert receivers' rollback port over the real rollback path, dated by the runtime's clock. */
function alertAsks(h: Harness) {
  const port = watchRollbackAdapter(
    (request, abort) => requestRollback(h.runtime, request, abort),
    () => h.runtime.clock(),
  );
  return port.rollback(
    {
      service: 'shop',
      reason: 'alert HighErrorRate firing',
      dryRun: false,
      alert: { source: 'alertmanager', fingerprint: 'fp1', name: 'HighErrorRate', labels: {} },
    },
    signal(),
  );
}

function knownGood(h: Harness): string[] {
  return h.runtime.store.knownGood.list('shop').map((entry) => `${entry.revision}:${entry.how}`);
}

describe('the guard on the serving revision', () => {
  it('an alert two hours after promotion, within the window, sends traffic back to the previous good revision', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const v2 = await deployAndPromote(h);
    const real = h.runtime.clock;
    h.runtime.clock = () => real() + 2 * HOUR;
    expect(await alertAsks(h)).toEqual({ kind: 'rolled_back', to: v1, from: [v2] });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    const store = h.runtime.store;
    expect(store.services.get('shop')?.stableRevision).toBe(v1);
    expect(store.revisions.bad('shop').has(v2)).toBe(true);
    expect(knownGood(h)).toEqual([`${v1}:baseline`, `${v2}:promoted`, `${v1}:rolled_back_to`]);
    // The revision rolled back to is the stable one: the next poll does not watch it as a new deploy.
    await h.runUntil(() => store.services.get('shop')?.snapshot?.serving[v1] === 100);
    expect(store.watches.open('shop')).toBeUndefined();
    // A second alert, past the cooldown, has nowhere earlier to go: nothing moves.
    h.runtime.clock = () => real() + 4 * HOUR;
    expect(await alertAsks(h)).toEqual({ kind: 'noop', to: v1 });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('after the rollback window an alert only alerts, naming the command a person would run', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const v2 = await deployAndPromote(h);
    const real = h.runtime.clock;
    h.runtime.clock = () => real() + 25 * HOUR;
    const result = await alertAsks(h);
    expect(result).toMatchObject({ kind: 'refused', reason: 'window_closed' });
    const detail = (result as { detail: string }).detail;
    expect(detail).toContain('no longer a safe target');
    expect(detail).toContain(`runwarden rollback --service shop --to ${v1}`);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    const refused = h.seen.find((entry) => entry.name === 'rollback:refused')?.payload;
    expect(refused).toMatchObject({ trigger: 'alert', refusal: 'window_closed', to: v1 });
    const history = h.runtime.store.history.list({ service: 'shop', limit: 50 });
    expect(history.some((entry) => entry.kind === 'rollback:refused' && entry.message.includes('--to'))).toBe(
      true,
    );
  });

  it('a guard rule tripping after promotion rolls back to the previous revision; each evaluation is stored as the guard’s', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const v2 = await deployAndPromote(h);
    h.playground.setBehaviour(v2, 'failing-health');
    const completed = await guardUntilEvent(h, 'rollback:completed');
    expect(completed).toMatchObject({
      trigger: 'guard',
      rule: 'health',
      from: [v2],
      to: v1,
      confirmed: true,
    });
    expect(completed.reason).toContain(`guard on ${v2}`);
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    const evaluations = h.runtime.store.evaluations.forGuard('shop', 100);
    expect(evaluations.length).toBeGreaterThan(0);
    expect(evaluations.every((entry) => entry.phase === 'guard' && entry.revision === v2)).toBe(true);
    expect(evaluations.some((entry) => entry.verdict === 'unhealthy' && entry.taken === 'rollback')).toBe(
      true,
    );
    const promotedBy = h.runtime.store.watches.recent('shop', 5).find((watch) => watch.candidate === v2);
    expect(evaluations[0]?.watchId).toBe(promotedBy?.id);
  });

  it('across deploys and rollbacks: a trip on a revision rolled back to only alerts, and rollback without --to goes to the one before', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const v2 = await deployAndPromote(h);
    const v3 = await deployAndPromote(h);
    h.playground.setBehaviour(v3, 'failing-health');
    const completed = await guardUntilEvent(h, 'rollback:completed');
    expect(completed).toMatchObject({ trigger: 'guard', from: [v3], to: v2 });
    expect(knownGood(h)).toEqual([
      `${v1}:baseline`,
      `${v2}:promoted`,
      `${v3}:promoted`,
      `${v2}:rolled_back_to`,
    ]);

    // v2 was rolled back to: it opens no window, so its own trip never walks back to v1.
    h.playground.setBehaviour(v2, 'failing-health');
    const refused = await guardUntilEvent(h, 'rollback:refused', (event) => event.trigger === 'guard');
    expect(refused).toMatchObject({ refusal: 'not_promoted', to: v1, rule: 'health' });
    expect(refused.reason).toContain(`runwarden rollback --service shop --to ${v1}`);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(h.seen.filter((entry) => entry.name === 'rollback:completed')).toHaveLength(1);
    expect(h.runtime.store.evaluations.forGuard('shop', 5)[0]).toMatchObject({
      revision: v2,
      taken: 'refused:not_promoted',
    });

    h.playground.setBehaviour(v2, 'healthy');
    const v4 = await deployAndPromote(h);
    expect(knownGood(h).at(-1)).toBe(`${v4}:promoted`);
    const [status] = serviceStatuses(h.runtime.services, h.runtime.store);
    expect(status?.rollback_target).toMatchObject({ revision: v2, window_closes_at: expect.any(String) });
    const outcome = await manualRollback(h.runtime, { service: 'shop', dryRun: false }, signal());
    expect(outcome).toMatchObject({ kind: 'rolled_back', to: v2, from: [v4], confirmed: true });
    expect(servedBy(h)).toEqual({ [v2]: 100 });
  });

  it('a trip on the first revision ever seen, with nowhere earlier to go, alerts once', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    h.playground.setBehaviour(v1, 'failing-health');
    const alert = await guardUntilEvent(h, 'watch:alert', (event) => event.rule === 'health');
    expect(alert).toMatchObject({ candidate: v1, rule: 'health' });
    expect(alert.reason).toContain('no earlier known good revision to roll back to');
    // The trip persists over further passes: it is not announced again.
    for (let pass = 0; pass < 3; pass += 1) await onePass(h);
    expect(h.seen.filter((entry) => entry.name === 'watch:alert')).toHaveLength(1);
    expect(h.seen.some((entry) => entry.name.startsWith('rollback:'))).toBe(false);
    expect(servedBy(h)).toEqual({ [v1]: 100 });
  });

  it('a guard trip after a schema change alerts, naming the change and the commands, and moves nothing', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const v2 = await deployAndPromote(h);
    const app = new Database(h.mainDb);
    app.exec(
      "CREATE TABLE shop_price (id INTEGER PRIMARY KEY); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_price', 'now')",
    );
    app.close();
    h.playground.setBehaviour(v2, 'failing-health');
    const refused = await guardUntilEvent(h, 'rollback:refused', (event) => event.trigger === 'guard');
    expect(refused).toMatchObject({ refusal: 'schema_changed', to: v1 });
    expect(refused.reason).toContain('shop.0002_price');
    expect(refused.reason).toContain(`runwarden rollback --service shop --to ${v1}`);
    expect(refused.reason).toContain('runwarden restore');
    expect(refused.reason).toContain('fix forward');
    expect(servedBy(h)).toEqual({ [v2]: 100 });
  });

  it('the watch with on_schema_change alert does not roll back over a schema change, and ends the watch failed', async () => {
    const { h, v1 } = await ready({ ...HEALTH_ONLY, on_schema_change: 'alert' });
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    // The new revision migrates the database before its probes fail.
    const app = new Database(h.mainDb);
    app.exec(
      "CREATE TABLE shop_item (id INTEGER PRIMARY KEY); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_item', 'now')",
    );
    app.close();
    const refused = await h.runUntilEvent('rollback:refused', (event) => event.trigger === 'watch');
    expect(refused).toMatchObject({ refusal: 'schema_changed', to: v1, candidate: v2 });
    expect(refused.reason).toContain('shop.0002_item');
    const ended = await h.runUntilEvent('watch:ended', (event) => event.candidate === v2);
    expect(ended).toMatchObject({ status: 'failed' });
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(h.seen.some((entry) => entry.name === 'rollback:completed')).toBe(false);
  });
});
