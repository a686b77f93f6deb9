import { describe, expect, it } from 'vitest';
import { detect, onObservation } from '../src/core/deploy-detect.js';
import { planRollback, type RollbackPlanInput, trafficTo } from '../src/core/rollback-plan.js';
import type { RuleEvaluation } from '../src/core/rules.js';
import {
  AUTH_FAILED_KEY,
  alertKey,
  INSUFFICIENT_KEY,
  judge,
  type JudgePolicy,
} from '../src/core/watch-machine.js';
import type { ServiceMemory, ServiceObservation, TrafficEntry, WatchState } from '../src/core/watch-types.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function observation(traffic: TrafficEntry[], latestReady: string | null = traffic[0]?.revision ?? null) {
  return { etag: 'e1', uri: 'https://svc', latestReady, traffic } satisfies ServiceObservation;
}

function memory(overrides: Partial<ServiceMemory> = {}): ServiceMemory {
  return {
    stable: 'r1',
    bad: new Set(),
    frozen: false,
    lastAutoRollbackAt: null,
    snapshot: { latestReady: 'r1', serving: { r1: 100 } },
    watch: null,
    ...overrides,
  };
}

function watch(overrides: Partial<WatchState> = {}): WatchState {
  return {
    id: 7,
    candidate: 'r2',
    stable: 'r1',
    startedAt: T0,
    deadline: T0 + 30 * MIN,
    status: 'watching',
    tripped: [],
    announced: [],
    ...overrides,
  };
}

function evaluation(
  rule: string,
  verdict: RuleEvaluation['verdict'],
  action: 'rollback' | 'alert' = 'rollback',
) {
  return {
    rule,
    signal: 'requests',
    action,
    window: null,
    query: '',
    raw: {},
    value: verdict === 'insufficient_data' ? null : 1,
    threshold: 1,
    verdict,
    detail: `${rule} is ${verdict}`,
  } satisfies RuleEvaluation;
}

const policy = { windowMs: 30 * MIN };

describe('deploy detection', () => {
  it('sees nothing new when the poll matches the previous one', () => {
    expect(
      detect({ latestReady: 'r1', serving: { r1: 100 } }, observation([{ revision: 'r1', percent: 100 }])),
    ).toEqual({
      kind: 'unchanged',
    });
  });

  it('a new ready revision that went straight to 100 % starts a watch against the stable one', () => {
    const step = onObservation(memory(), observation([{ revision: 'r2', percent: 100 }]), T0, policy);
    expect(step).toEqual({
      kind: 'start_watch',
      candidate: 'r2',
      stable: 'r1',
      deadline: T0 + 30 * MIN,
      supersedes: null,
    });
  });

  it('a deploy with no traffic is watched too (the new ready revision)', () => {
    const obs = observation(
      [
        { revision: 'r1', percent: 100 },
        { revision: 'r2', percent: 0, tag: 'green' },
      ],
      'r2',
    );
    expect(onObservation(memory(), obs, T0, policy)).toMatchObject({ kind: 'start_watch', candidate: 'r2' });
  });

  it('a change in which revision serves starts a watch (blue-green switch to an older revision)', () => {
    const before = memory({ snapshot: { latestReady: 'r3', serving: { r1: 100 } } });
    const obs = observation(
      [
        { revision: 'r1', percent: 50 },
        { revision: 'r3', percent: 50 },
      ],
      'r3',
    );
    expect(onObservation(before, obs, T0, policy)).toMatchObject({ kind: 'start_watch', candidate: 'r3' });
  });

  it('a newer deploy supersedes the running watch', () => {
    const before = memory({ watch: watch(), snapshot: { latestReady: 'r2', serving: { r2: 100 } } });
    const step = onObservation(before, observation([{ revision: 'r3', percent: 100 }]), T0 + MIN, policy);
    expect(step).toMatchObject({ kind: 'start_watch', candidate: 'r3', stable: 'r1', supersedes: 7 });
  });

  it('never watches the stable revision or a bad one', () => {
    const bad = memory({ bad: new Set(['r2']) });
    const step = onObservation(bad, observation([{ revision: 'r2', percent: 100 }]), T0, policy);
    expect(step).toEqual({ kind: 'bad_revision_serving', revision: 'r2' });
    const back = memory({ snapshot: { latestReady: 'r2', serving: { r2: 100 } }, bad: new Set(['r2']) });
    expect(onObservation(back, observation([{ revision: 'r1', percent: 100 }], 'r2'), T0, policy)).toEqual({
      kind: 'none',
    });
  });

  it('first sight with no stored history watches the one serving everything with no fallback, and guesses nothing on a split', () => {
    const fresh = memory({ stable: null, snapshot: null });
    // Serving is not proof of health: it is watched like a deploy, never adopted unwatched.
    expect(onObservation(fresh, observation([{ revision: 'r5', percent: 100 }]), T0, policy)).toEqual({
      kind: 'start_watch',
      candidate: 'r5',
      stable: null,
      deadline: T0 + policy.windowMs,
      supersedes: null,
      firstSight: true,
    });
    const marked = memory({ stable: null, snapshot: null, bad: new Set(['r5']) });
    expect(onObservation(marked, observation([{ revision: 'r5', percent: 100 }]), T0, policy)).toEqual({
      kind: 'none',
    });
    const split = observation([
      { revision: 'r5', percent: 90 },
      { revision: 'r6', percent: 10 },
    ]);
    expect(onObservation(fresh, split, T0, policy)).toEqual({ kind: 'none' });
  });

  it('first sight with a stable recorded before the deploy (predeploy) watches what is serving now', () => {
    const predeployed = memory({ snapshot: null });
    expect(
      onObservation(predeployed, observation([{ revision: 'r2', percent: 100 }]), T0, policy),
    ).toMatchObject({
      kind: 'start_watch',
      candidate: 'r2',
      stable: 'r1',
    });
    expect(onObservation(predeployed, observation([{ revision: 'r1', percent: 100 }]), T0, policy)).toEqual({
      kind: 'none',
    });
  });

  it('cancels the watch when someone moves the traffic away from an untagged candidate', () => {
    const before = memory({ watch: watch(), snapshot: { latestReady: 'r2', serving: { r2: 100 } } });
    const step = onObservation(before, observation([{ revision: 'r1', percent: 100 }], 'r2'), T0, policy);
    expect(step).toMatchObject({ kind: 'cancel_watch', watchId: 7 });
    const tagged = observation(
      [
        { revision: 'r1', percent: 100 },
        { revision: 'r2', percent: 0, tag: 'c', uri: 'https://c' },
      ],
      'r2',
    );
    expect(onObservation(before, tagged, T0, policy)).toEqual({ kind: 'none' });
  });
});

describe('judging a watch', () => {
  const open: JudgePolicy = { insufficientData: 'alert', frozen: false };

  it('keeps watching while the window is open and the rules pass or lack data', () => {
    const result = judge(
      watch(),
      [evaluation('http_5xx', 'healthy'), evaluation('health', 'insufficient_data')],
      T0 + MIN,
      open,
    );
    expect(result.kind).toBe('keep_watching');
  });

  it('auth_failed never trips; it is announced once, then counts as missing data but never rolls back', () => {
    const evaluations = [evaluation('http_5xx', 'healthy'), evaluation('health', 'auth_failed')];
    const early = judge(watch(), evaluations, T0 + MIN, open);
    expect(early).toMatchObject({ kind: 'keep_watching', trips: [] });
    expect(early.authFailed.map((entry) => entry.rule)).toEqual(['health']);
    expect(judge(watch({ announced: [AUTH_FAILED_KEY] }), evaluations, T0 + MIN, open).authFailed).toEqual(
      [],
    );
    const due = T0 + 31 * MIN;
    const ended = judge(watch(), evaluations, due, open);
    expect(ended).toMatchObject({ kind: 'end', endStatus: 'inconclusive' });
    expect(ended.reason).toContain('health: auth_failed, ');
    const atDeadline = judge(watch(), evaluations, due, {
      ...open,
      insufficientData: 'rollback_at_deadline',
    });
    expect(atDeadline).toMatchObject({ kind: 'end', endStatus: 'inconclusive' });
    expect(judge(watch(), evaluations, due, { ...open, insufficientData: 'keep_waiting' }).kind).toBe(
      'keep_watching',
    );
  });

  it('rolls back at once when a rollback rule is unhealthy, naming the rules', () => {
    const result = judge(
      watch(),
      [evaluation('http_5xx', 'unhealthy'), evaluation('health', 'healthy')],
      T0 + MIN,
      open,
    );
    expect(result.kind).toBe('rollback');
    expect(result.trips.map((trip) => trip.rule)).toEqual(['http_5xx']);
    expect(result.reason).toContain('http_5xx');
  });

  it('an alert-only rule never rolls back; it is announced once per watch', () => {
    const cpu = evaluation('cpu', 'unhealthy', 'alert');
    const first = judge(watch(), [cpu], T0 + MIN, open);
    expect(first).toMatchObject({ kind: 'keep_watching' });
    expect(first.alerts.map((alert) => alert.rule)).toEqual(['cpu']);
    expect(judge(watch({ announced: [alertKey('cpu')] }), [cpu], T0 + MIN, open).alerts).toEqual([]);
  });

  it('promotes at the deadline when clean', () => {
    expect(judge(watch(), [evaluation('http_5xx', 'healthy')], T0 + 30 * MIN, open).kind).toBe('promote');
  });

  it('alert-only rules short of data do not block promotion', () => {
    const result = judge(
      watch(),
      [evaluation('http_5xx', 'healthy'), evaluation('cpu', 'insufficient_data', 'alert')],
      T0 + 30 * MIN,
      open,
    );
    expect(result.kind).toBe('promote');
  });

  it('never promotes a candidate that tripped during the watch', () => {
    const result = judge(
      watch({ tripped: ['http_5xx'] }),
      [evaluation('http_5xx', 'healthy')],
      T0 + 30 * MIN,
      open,
    );
    expect(result).toMatchObject({ kind: 'end', endStatus: 'failed' });
  });

  describe('insufficient data at the deadline', () => {
    const short = [evaluation('http_5xx', 'insufficient_data'), evaluation('health', 'healthy')];

    it('keep_waiting keeps the watch open and announces it once', () => {
      const policyWait: JudgePolicy = { insufficientData: 'keep_waiting', frozen: false };
      const first = judge(watch(), short, T0 + 30 * MIN, policyWait);
      expect(first.kind).toBe('keep_watching');
      expect(first.insufficient.map((entry) => entry.rule)).toEqual(['http_5xx']);
      expect(
        judge(watch({ announced: [INSUFFICIENT_KEY] }), short, T0 + 31 * MIN, policyWait).insufficient,
      ).toEqual([]);
    });

    it('alert ends the watch inconclusive, neither promoted nor rolled back', () => {
      expect(judge(watch(), short, T0 + 30 * MIN, open)).toMatchObject({
        kind: 'end',
        endStatus: 'inconclusive',
      });
    });

    it('rollback_at_deadline rolls back', () => {
      const result = judge(watch(), short, T0 + 30 * MIN, {
        insufficientData: 'rollback_at_deadline',
        frozen: false,
      });
      expect(result.kind).toBe('rollback');
      expect(result.reason).toContain('insufficient data');
    });
  });

  it('a frozen service holds: it neither rolls back nor promotes, but says what it would do', () => {
    const frozen: JudgePolicy = { insufficientData: 'alert', frozen: true };
    expect(judge(watch(), [evaluation('http_5xx', 'unhealthy')], T0 + MIN, frozen)).toMatchObject({
      kind: 'hold',
      wouldDo: 'rollback',
    });
    expect(judge(watch(), [evaluation('http_5xx', 'healthy')], T0 + 31 * MIN, frozen)).toMatchObject({
      kind: 'hold',
      wouldDo: 'promote',
    });
  });
});

describe('planning a rollback', () => {
  const base: RollbackPlanInput = {
    trigger: 'watch',
    now: T0,
    cooldownMs: 10 * MIN,
    stable: 'r1',
    bad: new Set(),
    frozen: false,
    lastAutoRollbackAt: null,
    traffic: [{ revision: 'r2', percent: 100 }],
  };

  it('sends 100 % to the stable revision', () => {
    expect(planRollback(base)).toEqual({
      kind: 'update',
      to: 'r1',
      from: ['r2'],
      traffic: [{ revision: 'r1', percent: 100, tag: undefined }],
    });
  });

  it('refuses without a stable revision instead of guessing', () => {
    expect(planRollback({ ...base, stable: null })).toMatchObject({ kind: 'refused', reason: 'no_stable' });
  });

  it('automation never goes to a bad revision; a person may', () => {
    const input = { ...base, toRevision: 'r0', bad: new Set(['r0']) };
    expect(planRollback(input)).toMatchObject({ kind: 'refused', reason: 'target_bad' });
    expect(planRollback({ ...input, trigger: 'manual' })).toMatchObject({ kind: 'update', to: 'r0' });
  });

  it('frozen services take no automatic action', () => {
    expect(planRollback({ ...base, frozen: true, trigger: 'alert' })).toMatchObject({ reason: 'frozen' });
    expect(planRollback({ ...base, frozen: true, trigger: 'manual' }).kind).toBe('update');
  });

  it('cooldown: no second automatic rollback soon after one, unless a new deploy came since', () => {
    const recent = { ...base, lastAutoRollbackAt: T0 - MIN };
    expect(planRollback({ ...recent, trigger: 'alert' })).toMatchObject({
      kind: 'refused',
      reason: 'cooldown',
    });
    expect(planRollback({ ...recent, candidateSeenAt: T0 - 2 * MIN })).toMatchObject({ reason: 'cooldown' });
    expect(planRollback({ ...recent, candidateSeenAt: T0 - 30_000 }).kind).toBe('update');
    // An alert during the watch of a deploy newer than the last rollback is a new incident too.
    expect(planRollback({ ...recent, trigger: 'alert', candidateSeenAt: T0 - 30_000 }).kind).toBe('update');
    expect(planRollback({ ...recent, trigger: 'alert', candidateSeenAt: T0 - 2 * MIN })).toMatchObject({
      reason: 'cooldown',
    });
    expect(planRollback({ ...recent, trigger: 'manual' }).kind).toBe('update');
    // `runwarden emergency` is a person too: no cooldown, frozen or bad-target refusal.
    expect(planRollback({ ...recent, trigger: 'emergency' }).kind).toBe('update');
    expect(planRollback({ ...base, frozen: true, trigger: 'emergency' }).kind).toBe('update');
    expect(planRollback({ ...base, lastAutoRollbackAt: T0 - 10 * MIN, trigger: 'alert' }).kind).toBe(
      'update',
    );
  });

  it('does nothing when traffic already is all on the target (no flip-flop from late alerts)', () => {
    const settled = { ...base, traffic: [{ revision: 'r1', percent: 100 }], trigger: 'alert' as const };
    expect(planRollback(settled)).toEqual({ kind: 'noop', to: 'r1', reason: 'already_on_target' });
  });

  it('keeps every tag, at 0 %, so tag URLs keep working', () => {
    const traffic: TrafficEntry[] = [
      { revision: 'r1', percent: 0, tag: 'blue' },
      { revision: 'r2', percent: 100, tag: 'green' },
      { revision: 'r2', percent: 0, tag: 'head', latest: true },
    ];
    expect(trafficTo('r1', traffic)).toEqual([
      { revision: 'r1', percent: 100, tag: 'blue' },
      { revision: 'r2', percent: 0, tag: 'green' },
      { revision: null, percent: 0, tag: 'head' },
    ]);
  });
});
