import { describe, expect, it } from 'vitest';
import {
  decideOwedRollback,
  type OwedContext,
  type OwedRollback,
  settlesOwed,
} from '../src/core/owed-rollback.js';
import { planRollback, type RollbackPlanInput } from '../src/core/rollback-plan.js';
import { FROZEN_KEY } from '../src/core/watch-machine.js';
import type { TrafficEntry } from '../src/core/watch-types.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** A watch-decided rollback of r2 (which served everything) back to r1, sent at T0. */
function owed(overrides: Partial<OwedRollback> = {}): OwedRollback {
  return {
    id: 3,
    trigger: 'watch',
    to: 'r1',
    from: ['r2'],
    watchId: 7,
    reason: 'http_5xx: 9 > 5',
    rule: 'http_5xx',
    decidedAt: T0,
    announced: [],
    ...overrides,
  };
}

function context(traffic: TrafficEntry[], overrides: Partial<OwedContext> = {}): OwedContext {
  return { frozen: false, watchStatus: 'watching', traffic, ...overrides };
}

const ON_BAD: TrafficEntry[] = [{ revision: 'r2', percent: 100, latest: true }];

describe('an owed rollback', () => {
  it('is carried out while the revisions it rolls back from still serve exactly as when it was decided', () => {
    expect(decideOwedRollback(owed(), context(ON_BAD))).toEqual({ kind: 'carry_out' });
    // Tags at 0 % and an unrelated newer revision with no traffic do not change what serves.
    const tagged: TrafficEntry[] = [
      { revision: 'r2', percent: 100 },
      { revision: 'r1', percent: 0, tag: 'stable', uri: 'https://stable---svc' },
      { revision: 'r3', percent: 0, tag: 'next', uri: 'https://next---svc' },
    ];
    expect(decideOwedRollback(owed(), context(tagged))).toEqual({ kind: 'carry_out' });
    const split = owed({ from: ['r2', 'r3'] });
    const both: TrafficEntry[] = [
      { revision: 'r3', percent: 50 },
      { revision: 'r2', percent: 50 },
    ];
    expect(decideOwedRollback(split, context(both))).toEqual({ kind: 'carry_out' });
    // Part of the traffic already on the target (a canary split): still owed.
    const canary: TrafficEntry[] = [
      { revision: 'r1', percent: 90 },
      { revision: 'r2', percent: 10 },
    ];
    expect(decideOwedRollback(owed(), context(canary))).toEqual({ kind: 'carry_out' });
  });

  it('is carried out for an alert outside any watch', () => {
    const alert = owed({ trigger: 'alert', watchId: null, rule: 'HighErrorRate' });
    expect(decideOwedRollback(alert, context(ON_BAD, { watchStatus: null }))).toEqual({ kind: 'carry_out' });
  });

  it('is recorded as done when all traffic is on its target already (the update went through unconfirmed)', () => {
    const done: TrafficEntry[] = [{ revision: 'r1', percent: 100 }];
    expect(decideOwedRollback(owed(), context(done))).toEqual({
      kind: 'landed',
      reason: 'traffic is all on r1: the rollback took effect',
    });
    // Even while frozen: nothing is changed, only recorded.
    expect(decideOwedRollback(owed(), context(done, { frozen: true })).kind).toBe('landed');
  });

  it('is dropped when someone changed the traffic since: their change is never clobbered', () => {
    const elsewhere: TrafficEntry[] = [{ revision: 'r3', percent: 100 }];
    expect(decideOwedRollback(owed(), context(elsewhere))).toEqual({
      kind: 'superseded',
      reason: 'traffic changed meanwhile (now serving r3 100%); not overwritten',
    });
    // A person added a revision beside the bad one: not the traffic it was decided on.
    const added: TrafficEntry[] = [
      { revision: 'r2', percent: 50 },
      { revision: 'r3', percent: 50 },
    ];
    expect(decideOwedRollback(owed(), context(added)).kind).toBe('superseded');
    // One of two revisions it rolled back from was moved away by someone.
    const partly: TrafficEntry[] = [
      { revision: 'r2', percent: 50 },
      { revision: 'r1', percent: 50 },
    ];
    expect(decideOwedRollback(owed({ from: ['r2', 'r3'] }), context(partly)).kind).toBe('superseded');
    expect(decideOwedRollback(owed(), context([])).kind).toBe('superseded');
  });

  it('is dropped when the watch that decided it was ended by someone (a person promoted the candidate)', () => {
    expect(decideOwedRollback(owed(), context(ON_BAD, { watchStatus: 'promoted' }))).toEqual({
      kind: 'superseded',
      reason: 'the watch that decided it was ended (promoted) meanwhile',
    });
    expect(decideOwedRollback(owed(), context(ON_BAD, { watchStatus: 'cancelled' })).kind).toBe('superseded');
    // A watch the store no longer has does not stop it.
    expect(decideOwedRollback(owed(), context(ON_BAD, { watchStatus: null })).kind).toBe('carry_out');
  });

  it('frozen: holds, says so once, and stays owed', () => {
    expect(decideOwedRollback(owed(), context(ON_BAD, { frozen: true }))).toEqual({
      kind: 'hold',
      reason: 'frozen; a rollback to r1 is owed and waits until the service is unfrozen',
      announce: true,
    });
    const said = owed({ announced: [FROZEN_KEY] });
    expect(decideOwedRollback(said, context(ON_BAD, { frozen: true }))).toMatchObject({
      kind: 'hold',
      announce: false,
    });
    // Someone's change still wins over a frozen debt.
    const moved: TrafficEntry[] = [{ revision: 'r3', percent: 100 }];
    expect(decideOwedRollback(owed(), context(moved, { frozen: true })).kind).toBe('superseded');
  });
});

describe('what settles an owed rollback', () => {
  it('a confirmed change, traffic already on target, or a final refusal', () => {
    expect(settlesOwed({ kind: 'rolled_back', confirmed: true })).toBe(true);
    expect(settlesOwed({ kind: 'noop' })).toBe(true);
    for (const reason of ['stale', 'target_bad', 'no_stable'] as const)
      expect(settlesOwed({ kind: 'refused', reason })).toBe(true);
  });

  it('not an unconfirmed change, a freeze, a busy lease, a cooldown or a dry run: still owed', () => {
    expect(settlesOwed({ kind: 'rolled_back', confirmed: false })).toBe(false);
    for (const reason of ['frozen', 'busy', 'cooldown'] as const)
      expect(settlesOwed({ kind: 'refused', reason })).toBe(false);
    expect(settlesOwed({ kind: 'dry_run' })).toBe(false);
  });
});

describe('planning an owed rollback', () => {
  const base: RollbackPlanInput = {
    trigger: 'watch',
    toRevision: 'r1',
    candidateSeenAt: T0 - 20 * MIN,
    now: T0,
    cooldownMs: 10 * MIN,
    stable: 'r1',
    bad: new Set(),
    frozen: false,
    lastAutoRollbackAt: T0 - MIN,
    traffic: ON_BAD,
  };

  it('the cooldown does not block finishing it (the same incident, already decided)', () => {
    expect(planRollback(base)).toMatchObject({ kind: 'refused', reason: 'cooldown' });
    expect(planRollback({ ...base, owed: true })).toMatchObject({ kind: 'update', to: 'r1', from: ['r2'] });
    expect(planRollback({ ...base, trigger: 'alert', owed: true }).kind).toBe('update');
  });

  it('a freeze and a bad target still do', () => {
    expect(planRollback({ ...base, owed: true, frozen: true })).toMatchObject({
      kind: 'refused',
      reason: 'frozen',
    });
    expect(planRollback({ ...base, owed: true, bad: new Set(['r1']) })).toMatchObject({
      kind: 'refused',
      reason: 'target_bad',
    });
  });
});
