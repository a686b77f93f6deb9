import { describe, expect, it } from 'vitest';
import { judgeCandidate, reachOf, stepTraffic } from '../src/core/candidate-test.js';
import { stepWindow } from '../src/core/release-step.js';
import type { HealthSample } from '../src/core/rules.js';

const T0 = Date.UTC(2026, 0, 1);

function probes(...oks: boolean[]): HealthSample[] {
  return oks.map((ok, index) => ({ at: T0 + index * 1000, ok, target: 'tag', status: ok ? 200 : 503 }));
}

const base = {
  consecutive: 3,
  failLimit: 3,
  smokeChecks: 0,
  smoke: null,
  now: T0 + 10_000,
  deadline: T0 + 60_000,
};

describe('a candidate under test', () => {
  it('passes on probe_consecutive healthy answers in a row, not on one lucky answer', () => {
    expect(judgeCandidate({ ...base, probes: probes(false, false, true) })).toEqual({
      kind: 'testing',
      detail: '1 of 3 healthy answers in a row at its tag URL',
    });
    expect(judgeCandidate({ ...base, probes: probes(true, true, false, true, true) }).kind).toBe('testing');
    expect(judgeCandidate({ ...base, probes: probes(false, true, true, true) })).toEqual({
      kind: 'passed',
      detail: '3 of 3 healthy answers in a row at its tag URL',
    });
  });

  it('fails on failLimit failures in a row, naming the last answer', () => {
    expect(judgeCandidate({ ...base, probes: probes(true, false, false, false) })).toEqual({
      kind: 'failed',
      detail: '3 failed probes in a row at its tag URL (last: 503)',
    });
  });

  it('asks for its smoke checks once the probes passed, then judges them', () => {
    const input = { ...base, smokeChecks: 2, probes: probes(true, true, true) };
    expect(judgeCandidate(input)).toEqual({ kind: 'run_smoke' });
    expect(
      judgeCandidate({
        ...input,
        smoke: [
          { path: '/', ok: true, detail: 'answered 200' },
          { path: '/login', ok: false, detail: 'expected 200, got 500' },
        ],
      }),
    ).toEqual({ kind: 'failed', detail: 'smoke check failed: /login: expected 200, got 500' });
    expect(
      judgeCandidate({
        ...input,
        smoke: [
          { path: '/', ok: true, detail: 'answered 200' },
          { path: '/login', ok: true, detail: 'answered 200' },
        ],
      }),
    ).toEqual({
      kind: 'passed',
      detail: '3 of 3 healthy answers in a row at its tag URL; 2 smoke checks passed',
    });
  });

  it('fails when its watch window ends before it passed', () => {
    expect(judgeCandidate({ ...base, probes: probes(true, false, true), now: base.deadline })).toEqual({
      kind: 'failed',
      detail: 'did not answer healthy 3 times in a row at its tag URL within its watch window (1 at the end)',
    });
  });

  it('a probe refused for its own credentials ends both runs: no verdict on the candidate', () => {
    const refused: HealthSample = { at: T0 + 9000, ok: false, target: 'tag', auth: 'token_failed' };
    expect(judgeCandidate({ ...base, probes: [...probes(false, false), refused] }).kind).toBe('testing');
  });

  it('is reachable at its tag, serving, or not at all', () => {
    expect(
      reachOf(
        [
          { revision: 'r1', percent: 100 },
          { revision: 'r2', percent: 0 },
        ],
        'r2',
      ),
    ).toBe('unreachable');
    expect(
      reachOf(
        [
          { revision: 'r1', percent: 100 },
          { revision: 'r2', percent: 0, tag: 'g', uri: 'https://g' },
        ],
        'r2',
      ),
    ).toBe('tagged');
    expect(reachOf([{ revision: 'r2', percent: 10 }], 'r2')).toBe('serving');
  });
});

describe('a release step', () => {
  it('splits traffic between candidate and stable, keeping every tag where it points', () => {
    const current = [
      { revision: 'r1', percent: 100, tag: 'blue' },
      { revision: 'r2', percent: 0, tag: 'green' },
      { revision: 'r0', percent: 0, tag: 'old' },
      { revision: 'r2', percent: 0, tag: 'head', latest: true },
    ];
    expect(stepTraffic('r2', 'r1', 10, current)).toEqual([
      { revision: 'r2', percent: 10, tag: 'green' },
      { revision: 'r1', percent: 90, tag: 'blue' },
      { revision: 'r0', percent: 0, tag: 'old' },
      { revision: null, percent: 0, tag: 'head' },
    ]);
    expect(stepTraffic('r2', 'r1', 100, current)).toEqual([
      { revision: 'r2', percent: 100, tag: 'green' },
      { revision: 'r1', percent: 0, tag: 'blue' },
      { revision: 'r0', percent: 0, tag: 'old' },
      { revision: null, percent: 0, tag: 'head' },
    ]);
  });

  it("compares only complete, reported buckets of the step's own traffic", () => {
    const options = { alignmentMs: 60_000, reportingDelayMs: 180_000 };
    const start = T0 + 30_000;
    expect(stepWindow(start, start + 200_000, options)).toBeNull();
    expect(stepWindow(start, T0 + 600_000, options)).toEqual({ start: T0 + 60_000, end: T0 + 420_000 });
  });
});
