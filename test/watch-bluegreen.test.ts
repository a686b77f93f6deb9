import { describe, expect, it } from 'vitest';
import { RunwardenError } from '../src/core/errors.js';
import { manualPromote } from '../src/watch/manual-promote.js';
import { serviceStatuses } from '../src/watch/status.js';
import { releaseDeadline } from './helpers/deadlines.js';
import { type Harness, keepTraffic, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const harness = useWatchHarness('runwarden-bluegreen-');

function statusOf(h: Harness) {
  return serviceStatuses(h.runtime.services, h.runtime.store)[0]!;
}

async function refusal(promise: Promise<unknown>): Promise<RunwardenError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RunwardenError);
  return error as RunwardenError;
}

describe('a tagged no-traffic candidate (the guide blue-green flow)', () => {
  it('passes after probe_consecutive healthy answers and its smoke checks, takes no traffic by itself, and can be promoted', async () => {
    const { h, v1 } = await harness.ready({
      probe_consecutive: 4,
      smoke: [{ path: '/login', status: 200, body_contains: '"status":200' }],
    });
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true, tag: 'green' });
    const passed = await h.runUntilEvent('watch:candidate', (event) => event.candidate === v2);
    expect(passed).toMatchObject({ verdict: 'passed', stable: v1 });
    expect(passed.detail).toBe('4 of 4 healthy answers in a row at its tag URL; 1 smoke checks passed');
    expect(servedBy(h)).toMatchObject({ [v1]: 100, [v2]: 0 });
    const status = statusOf(h);
    expect(status.watch?.candidate_test).toMatchObject({ verdict: 'passed' });
    expect(status.watch?.release_step).toBeNull();

    const result = await manualPromote(h.runtime, 'shop', v2, harness.signal());
    expect(result).toMatchObject({ revision: v2, previous: v1, trafficChanged: true });
    expect(servedBy(h)).toMatchObject({ [v2]: 100 });
    expect(h.runtime.store.watches.recent('shop', 1)[0]?.status).toBe('promoted');
  });

  it('fails on failed probes at its tag URL: marked bad, and promote refuses it without --force', async () => {
    const { h, v1 } = await harness.ready();
    const v2 = await h.playground.deploy('shop', {
      behaviour: 'failing-health',
      noTraffic: true,
      tag: 'green',
    });
    const failed = await h.runUntilEvent('watch:candidate', (event) => event.candidate === v2);
    expect(failed.verdict).toBe('failed');
    expect(failed.detail).toBe('3 failed probes in a row at its tag URL (last: 503)');
    expect(h.runtime.store.watches.recent('shop', 1)[0]).toMatchObject({ candidate: v2, status: 'failed' });
    expect(statusOf(h).last_watch?.candidate_test).toMatchObject({ verdict: 'failed' });
    expect(statusOf(h).bad_revisions).toContain(v2);

    const error = await refusal(manualPromote(h.runtime, 'shop', v2, harness.signal()));
    expect(error.code).toBe('RW_CANDIDATE_FAILED');
    expect(error.message).toBe(
      `${v2} failed its tests at its tag URL (3 failed probes in a row at its tag URL (last: 503)); pass --force to promote it anyway`,
    );
    expect(servedBy(h)).toMatchObject({ [v1]: 100, [v2]: 0 });
    await manualPromote(h.runtime, 'shop', v2, harness.signal(), { force: true });
    expect(servedBy(h)).toMatchObject({ [v2]: 100 });
  });

  it('fails on a smoke check whose answer is wrong, naming the path and what came back', async () => {
    const { h } = await harness.ready({
      smoke: [
        { path: '/', status: 200 },
        { path: '/login', status: 200, body_contains: 'Sign in' },
      ],
    });
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true, tag: 'green' });
    const failed = await h.runUntilEvent('watch:candidate', (event) => event.candidate === v2);
    expect(failed.verdict).toBe('failed');
    expect(failed.detail).toBe(
      'smoke check failed: /login: answered 200 but the body does not contain "Sign in"',
    );
    const v3 = await h.playground.deploy('shop', {
      behaviour: { preset: 'healthy', errorRate: 1 },
      noTraffic: true,
      tag: 'blue',
    });
    const broken = await h.runUntilEvent('watch:candidate', (event) => event.candidate === v3);
    expect(broken.detail).toBe(
      'smoke checks failed: /: expected 200, got 500; /login: expected 200, got 500',
    );
  });

  it('promote refuses a candidate still under test, naming how far it got', async () => {
    const { h } = await harness.ready({ probe_consecutive: 100, watch_window: '1m' });
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true, tag: 'green' });
    await h.runUntil(() => h.runtime.store.watches.open('shop')?.release?.test.detail.startsWith('2 of 100'));
    const error = await refusal(manualPromote(h.runtime, 'shop', v2, harness.signal()));
    expect(error.code).toBe('RW_CANDIDATE_UNTESTED');
    expect(error.message).toMatch(
      new RegExp(
        `^${v2} has not passed its tests at its tag URL yet \\(\\d+ of 100 healthy answers in a row at its tag URL\\); pass --force`,
      ),
    );
    expect(statusOf(h).watch?.candidate_test).toMatchObject({ verdict: 'testing' });
  });

  it('an untagged no-traffic revision is reported not reachable for testing', async () => {
    const { h } = await harness.ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true });
    const event = await h.runUntilEvent('watch:candidate', (payload) => payload.candidate === v2);
    expect(event).toMatchObject({
      verdict: 'unreachable',
      detail: 'not reachable for testing: deploy it with --tag',
    });
    expect(statusOf(h).watch?.candidate_test).toMatchObject({
      verdict: 'unreachable',
      detail: 'not reachable for testing: deploy it with --tag',
    });
    const error = await refusal(manualPromote(h.runtime, 'shop', v2, harness.signal()));
    expect(error.message).toBe(
      `${v2} was never tested: not reachable for testing: deploy it with --tag; pass --force to promote it anyway`,
    );
    // Given traffic by hand and promoted by its watch, it proved itself on users: nothing to refuse.
    await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v2, percent: 100 }]);
    const stopTraffic = keepTraffic(h.playground);
    try {
      await h.runUntilEvent('watch:promoted', (event) => event.stable === v2);
    } finally {
      await stopTraffic();
    }
    expect(await manualPromote(h.runtime, 'shop', v2, harness.signal())).toMatchObject({
      revision: v2,
      trafficChanged: false,
    });
  });
});

/** Absolute thresholds far above what the test's traffic can reach: only the comparison can stop it. */
const LENIENT_RULES = [
  { name: 'http_5xx', signal: 'requests', response_code_class: '5xx', threshold: 1000, window: '3s' },
  { name: 'http_503', signal: 'requests', response_code: '503', threshold: 1000, window: '2s' },
  { name: 'health', signal: 'health', threshold: 3 },
];

const RELEASE = {
  rules: LENIENT_RULES,
  release: { auto_promote: true, steps: [50, 100], step_wait: '5s' },
};

describe('automatic promotion in steps (release.auto_promote)', () => {
  it('takes a passing candidate through its steps to promotion', async () => {
    const { h, v1 } = await harness.ready(RELEASE);
    const stopTraffic = keepTraffic(h.playground, 120);
    try {
      const v2 = await h.playground.deploy('shop', { behaviour: 'healthy', noTraffic: true, tag: 'green' });
      const promoted = await h.runUntilEvent(
        'watch:promoted',
        (event) => event.stable === v2,
        releaseDeadline(h.config),
      );
      expect(promoted).toMatchObject({ previous: v1, trigger: 'watch' });
    } finally {
      await stopTraffic();
    }
    const steps = h.seen.filter((entry) => entry.name === 'watch:step').map((entry) => entry.payload);
    expect(steps).toEqual([
      expect.objectContaining({ step: 1, steps: 2, percent: 50 }),
      expect.objectContaining({ step: 2, steps: 2, percent: 100 }),
    ]);
    const watch = h.runtime.store.watches.recent('shop', 1)[0]!;
    const comparisons = h.runtime.store.evaluations
      .forWatch(watch.id, 500)
      .filter((entry) => entry.rule === 'stable_comparison');
    // Newest first: the step went ahead on a passed comparison, never on too little data.
    expect(comparisons[0]?.verdict).toBe('healthy');
  });

  it('is stopped at a step by the comparison with stable while no absolute threshold was crossed', async () => {
    const { h, v1 } = await harness.ready(RELEASE);
    const stopTraffic = keepTraffic(h.playground, 120);
    let v2 = '';
    try {
      // One request in ten fails: 5xx far under the rules' thresholds, far above stable's none.
      v2 = await h.playground.deploy('shop', {
        behaviour: { preset: 'healthy', errorRate: 0.1 },
        noTraffic: true,
        tag: 'green',
      });
      const rolledBack = await h.runUntilEvent(
        'rollback:completed',
        (event) => event.from.includes(v2),
        releaseDeadline(h.config),
      );
      expect(rolledBack).toMatchObject({ to: v1, rule: 'stable_comparison', trigger: 'watch' });
      expect(rolledBack.reason).toMatch(
        /^stable_comparison: 5xx .* on the candidate vs 0% of \d+ on stable .*worse than stable/,
      );
    } finally {
      await stopTraffic();
    }
    expect(servedBy(h)).toMatchObject({ [v1]: 100, [v2]: 0 });
    const steps = h.seen.filter((entry) => entry.name === 'watch:step').map((entry) => entry.payload);
    expect(steps).toEqual([expect.objectContaining({ step: 1, percent: 50 })]);
    const watch = h.runtime.store.watches.recent('shop', 1)[0]!;
    expect(watch.status).toBe('rolled_back');
    const evaluations = h.runtime.store.evaluations.forWatch(watch.id, 1000);
    const absolute = evaluations.filter((entry) => entry.rule === 'http_5xx' || entry.rule === 'http_503');
    expect(absolute.some((entry) => entry.verdict === 'healthy')).toBe(true);
    expect(absolute.every((entry) => entry.verdict !== 'unhealthy')).toBe(true);
    expect(h.runtime.store.revisions.bad('shop').has(v2)).toBe(true);
  });
});
