import { describe, expect, it } from 'vitest';
import { judgeGuard } from '../src/core/guard.js';
import { type KnownGoodEntry, rollbackTarget, rollbackWindow } from '../src/core/known-good.js';
import { planRollback } from '../src/core/rollback-plan.js';
import type { RuleEvaluation } from '../src/core/rules.js';
import { schemaGate } from '../src/core/schema-gate.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

const list: KnownGoodEntry[] = [
  { revision: 'r1', how: 'baseline', at: T0 },
  { revision: 'r2', how: 'promoted', at: T0 + HOUR },
  { revision: 'r3', how: 'promoted', at: T0 + 2 * HOUR },
];

const none = new Set<string>();

describe('the default rollback target', () => {
  it('during a watch is the stable revision, as always', () => {
    expect(rollbackTarget({ knownGood: list, stable: 'r3', watching: true, serving: 'r4', bad: none })).toBe(
      'r3',
    );
  });

  it('after a promotion is the known good revision before the serving one', () => {
    expect(rollbackTarget({ knownGood: list, stable: 'r3', watching: false, serving: 'r3', bad: none })).toBe(
      'r2',
    );
  });

  it('skips revisions marked bad', () => {
    const bad = new Set(['r2']);
    expect(rollbackTarget({ knownGood: list, stable: 'r3', watching: false, serving: 'r3', bad })).toBe('r1');
  });

  it('skips older entries of the serving revision itself (it was rolled back to)', () => {
    const back: KnownGoodEntry[] = [...list, { revision: 'r2', how: 'rolled_back_to', at: T0 + 3 * HOUR }];
    const bad = new Set(['r3']);
    expect(rollbackTarget({ knownGood: back, stable: 'r2', watching: false, serving: 'r2', bad })).toBe('r1');
  });

  it('falls back to the stable revision when nothing earlier is known', () => {
    const only: KnownGoodEntry[] = [{ revision: 'r1', how: 'baseline', at: T0 }];
    expect(rollbackTarget({ knownGood: only, stable: 'r1', watching: false, serving: 'r1', bad: none })).toBe(
      'r1',
    );
    expect(
      rollbackTarget({ knownGood: [], stable: null, watching: false, serving: 'r1', bad: none }),
    ).toBeNull();
  });

  it('uses the stable revision as the serving one when traffic is split', () => {
    expect(rollbackTarget({ knownGood: list, stable: 'r3', watching: false, serving: null, bad: none })).toBe(
      'r2',
    );
  });
});

describe('the rollback window of the serving revision', () => {
  it('is open for rollback_window after its promotion, then closed with a reason naming both', () => {
    expect(rollbackWindow(list, 'r3', T0 + 3 * HOUR, 24 * HOUR)).toEqual({
      open: true,
      promotedAt: T0 + 2 * HOUR,
      closesAt: T0 + 26 * HOUR,
    });
    const closed = rollbackWindow(list, 'r3', T0 + 26 * HOUR, 24 * HOUR);
    expect(closed).toMatchObject({ open: false, why: 'closed' });
    expect(closed.open === false && closed.detail).toContain('past its rollback_window of 1d');
    expect(closed.open === false && closed.detail).toContain('no longer a safe target');
  });

  it('is never opened by a rollback to the revision, nor by the baseline', () => {
    const back: KnownGoodEntry[] = [...list, { revision: 'r2', how: 'rolled_back_to', at: T0 + 3 * HOUR }];
    const rolled = rollbackWindow(back, 'r2', T0 + 3 * HOUR, 24 * HOUR);
    expect(rolled).toMatchObject({ open: false, why: 'not_promoted' });
    expect(rolled.open === false && rolled.detail).toContain('rolled back to r2');
    expect(rollbackWindow(list, 'r1', T0, 24 * HOUR)).toMatchObject({ open: false, why: 'not_promoted' });
    expect(rollbackWindow(list, 'r9', T0, 24 * HOUR)).toMatchObject({ open: false, why: 'not_promoted' });
    expect(rollbackWindow(list, null, T0, 24 * HOUR)).toMatchObject({ open: false, why: 'not_promoted' });
  });
});

describe('the schema gate', () => {
  const changed = { changed: true, detail: 'schema changed: 1 migration(s) applied since: shop.0002_price' };
  const commands = { service: 'shop', to: 'r2', backup: '/var/backups/b.zip' };

  it('alert: stops the rollback, naming the change and both ways out', () => {
    const gate = schemaGate('alert', changed, commands);
    expect(gate.kind).toBe('alert');
    expect(gate.detail).toContain('shop.0002_price');
    expect(gate.detail).toContain('runwarden rollback --service shop --to r2');
    expect(gate.detail).toContain('runwarden restore /var/backups/b.zip --all');
    expect(gate.detail).toContain('fix forward');
  });

  it('rollback: goes ahead, loudly', () => {
    expect(schemaGate('rollback', changed, commands)).toMatchObject({ kind: 'go', loud: true });
  });

  it('an unchanged or unknown schema never stops a rollback', () => {
    expect(schemaGate('alert', { changed: false, detail: 'same' }, commands)).toMatchObject({
      kind: 'go',
      loud: false,
    });
    expect(schemaGate('alert', { changed: null, detail: 'unknown' }, commands)).toMatchObject({ kind: 'go' });
  });
});

describe('the rollback plan with a closed window', () => {
  const input = {
    now: T0,
    cooldownMs: 0,
    stable: 'r3',
    bad: none,
    frozen: false,
    lastAutoRollbackAt: null,
    traffic: [{ revision: 'r3', percent: 100 }],
    toRevision: 'r2',
    closed: { reason: 'window_closed' as const, detail: 'past the window' },
  };

  it('refuses automatic triggers and lets a person through', () => {
    expect(planRollback({ ...input, trigger: 'guard' })).toEqual({
      kind: 'refused',
      to: 'r2',
      reason: 'window_closed',
      detail: 'past the window',
    });
    expect(planRollback({ ...input, trigger: 'alert' })).toMatchObject({
      kind: 'refused',
      reason: 'window_closed',
    });
    expect(planRollback({ ...input, trigger: 'manual' })).toMatchObject({
      kind: 'update',
      to: 'r2',
      from: ['r3'],
    });
  });

  it('a frozen service is refused as frozen first', () => {
    expect(planRollback({ ...input, trigger: 'guard', frozen: true })).toMatchObject({ reason: 'frozen' });
  });
});

describe('the guard judgement', () => {
  const evaluation = (rule: string, action: 'rollback' | 'alert', verdict: RuleEvaluation['verdict']) =>
    ({ rule, action, verdict, detail: `${rule} ${verdict}` }) as RuleEvaluation;

  it('asks for a rollback on every rollback trip and announces an alert once while it stays unhealthy', () => {
    const first = judgeGuard(
      [evaluation('http_5xx', 'rollback', 'unhealthy'), evaluation('cpu', 'alert', 'unhealthy')],
      new Set(),
    );
    expect(first.trips.map((trip) => trip.rule)).toEqual(['http_5xx']);
    expect(first.alerts.map((alert) => alert.rule)).toEqual(['cpu']);
    const again = judgeGuard([evaluation('cpu', 'alert', 'unhealthy')], first.announced);
    expect(again.alerts).toEqual([]);
    const healthy = judgeGuard([evaluation('cpu', 'alert', 'healthy')], again.announced);
    expect([...healthy.announced]).toEqual([]);
    expect(judgeGuard([evaluation('cpu', 'alert', 'unhealthy')], healthy.announced).alerts).toHaveLength(1);
  });

  it('insufficient data is neither a trip nor an alert', () => {
    const judged = judgeGuard([evaluation('http_5xx', 'rollback', 'insufficient_data')], new Set());
    expect(judged).toMatchObject({ trips: [], alerts: [] });
  });
});
