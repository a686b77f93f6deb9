import { type ProbeAuthCheck, stableCheck } from '../src/core/probe-auth.js';
import { describe, expect, it } from 'vitest';
import {
  evaluateRule,
  evaluateRules,
  type HealthRule,
  metricWindow,
  type RequestBucket,
  type RequestRule,
  requestQueryWindow,
  type Rule,
  type Samples,
  type UtilizationRule,
  utilizationQueryWindow,
} from '../src/core/rules.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const windows = { alignmentMs: MIN, reportingDelayMs: 3 * MIN };
const http5xx: RequestRule = {
  name: 'http_5xx',
  signal: 'requests',
  responseCodeClass: '5xx',
  measure: 'count',
  threshold: 5,
  windowMs: 5 * MIN,
  minRequests: 0,
  action: 'rollback',
};
const http503: RequestRule = {
  name: 'http_503',
  signal: 'requests',
  responseCode: '503',
  measure: 'count',
  threshold: 1,
  windowMs: MIN,
  minRequests: 0,
  action: 'rollback',
};
const health: HealthRule = { name: 'health', signal: 'health', threshold: 3, action: 'rollback' };
const cpu: UtilizationRule = {
  name: 'cpu',
  signal: 'cpu',
  percentile: 99,
  threshold: 0.9,
  windowMs: 5 * MIN,
  action: 'alert',
};

/** One bucket per minute starting at `minute` minutes after T0. */
function bucket(minute: number, code: string, count: number): RequestBucket {
  const start = T0 + minute * MIN;
  return { start, end: start + MIN, responseCode: code, responseCodeClass: `${code[0]}xx`, count };
}

function requests(items: RequestBucket[]): Samples {
  return { requests: { query: 'q', items }, health: [] };
}

// At T0 + 13m30s with a 3-minute delay, the newest complete reported minute is [T0+9m, T0+10m).
const NOW = T0 + 13 * MIN + 30_000;
const context = { now: NOW, since: T0, windows };

describe('metric windows', () => {
  it('ends at the last complete bucket old enough to be reported', () => {
    expect(metricWindow(NOW, 5 * MIN, windows)).toEqual({ start: T0 + 5 * MIN, end: T0 + 10 * MIN });
  });

  it('does not move until a whole new bucket is old enough', () => {
    expect(metricWindow(T0 + 13 * MIN + 59_999, MIN, windows).end).toBe(T0 + 10 * MIN);
    expect(metricWindow(T0 + 14 * MIN, MIN, windows).end).toBe(T0 + 11 * MIN);
  });

  it('one query covers the widest request window, none when there is no such rule', () => {
    expect(requestQueryWindow([http5xx, http503, health], NOW, windows)).toEqual({
      start: T0 + 5 * MIN,
      end: T0 + 10 * MIN,
    });
    expect(requestQueryWindow([health, cpu], NOW, windows)).toBeUndefined();
    expect(utilizationQueryWindow([cpu], 'cpu', NOW, windows)?.end).toBe(T0 + 10 * MIN);
    expect(utilizationQueryWindow([cpu], 'memory', NOW, windows)).toBeUndefined();
  });
});

describe('request count rules', () => {
  it('is unhealthy when more than the threshold match within the window', () => {
    const result = evaluateRule(http5xx, requests([bucket(6, '500', 4), bucket(8, '502', 2)]), context);
    expect(result.verdict).toBe('unhealthy');
    expect(result.value).toBe(6);
    expect(result.raw).toMatchObject({ matching: 6, total: 6 });
    expect(result.window).toEqual({ start: T0 + 5 * MIN, end: T0 + 10 * MIN });
    expect(result.detail).toContain('> 5');
  });

  it('is healthy at exactly the threshold (the rule is "more than")', () => {
    const result = evaluateRule(http5xx, requests([bucket(6, '500', 5), bucket(6, '200', 100)]), context);
    expect(result.verdict).toBe('healthy');
    expect(result.value).toBe(5);
  });

  it('ignores buckets outside the window and buckets not yet old enough', () => {
    const items = [bucket(4, '500', 50), bucket(10, '500', 50), bucket(12, '500', 50), bucket(7, '200', 10)];
    const result = evaluateRule(http5xx, requests(items), context);
    expect(result.verdict).toBe('healthy');
    expect(result.raw).toMatchObject({ matching: 0, total: 10 });
  });

  it('counts only the configured code for a 503 rule', () => {
    const items = [bucket(9, '500', 10), bucket(9, '503', 2)];
    expect(evaluateRule(http503, requests(items), context)).toMatchObject({ verdict: 'unhealthy', value: 2 });
    expect(evaluateRule(http503, requests([bucket(9, '503', 1), bucket(9, '200', 5)]), context).verdict).toBe(
      'healthy',
    );
  });

  it('treats missing series as insufficient data, not as zero errors', () => {
    const result = evaluateRule(http5xx, requests([]), context);
    expect(result.verdict).toBe('insufficient_data');
    expect(result.value).toBeNull();
  });

  it('is insufficient data when the series could not be fetched', () => {
    expect(evaluateRule(http5xx, { health: [] }, context).verdict).toBe('insufficient_data');
  });

  it('is insufficient data until a complete reported minute exists after the watch started', () => {
    const early = { ...context, since: T0 + 10 * MIN };
    const result = evaluateRule(http5xx, requests([bucket(9, '500', 100)]), early);
    expect(result.verdict).toBe('insufficient_data');
    expect(result.detail).toContain('no complete reported minute');
  });
});

describe('request ratio rules', () => {
  const ratio: RequestRule = {
    ...http5xx,
    name: 'ratio',
    measure: 'ratio',
    threshold: 0.05,
    minRequests: 20,
  };

  it('compares the share of matching requests', () => {
    const bad = evaluateRule(ratio, requests([bucket(6, '500', 3), bucket(6, '200', 27)]), context);
    expect(bad).toMatchObject({ verdict: 'unhealthy', value: 0.1 });
    const good = evaluateRule(ratio, requests([bucket(6, '500', 1), bucket(6, '200', 39)]), context);
    expect(good).toMatchObject({ verdict: 'healthy', value: 0.025 });
  });

  it('is insufficient data below the minimum request count, however bad the share', () => {
    const result = evaluateRule(ratio, requests([bucket(6, '500', 10), bucket(6, '200', 5)]), context);
    expect(result.verdict).toBe('insufficient_data');
    expect(result.detail).toContain('minimum 20');
  });
});

describe('health rule', () => {
  const probe = (seconds: number, ok: boolean, target = 'service') => ({
    at: T0 + seconds * 1000,
    ok,
    target,
    status: ok ? 200 : 500,
  });

  it('a 401/403 the stable revision gives too, or no token, is auth_failed, never a failure', () => {
    const refused = (seconds: number, auth: ProbeAuthCheck) => ({
      ...probe(seconds, false),
      status: 403,
      auth,
    });
    const samples = { health: [probe(10, false), probe(20, false), refused(30, 'stable_refused')] };
    expect(evaluateRule(health, samples, context)).toMatchObject({ verdict: 'auth_failed', value: null });
    const noToken = {
      ...probe(30, false),
      status: undefined,
      error: 'RW_PROBE_TOKEN',
      auth: 'token_failed' as const,
    };
    expect(evaluateRule(health, { health: [noToken] }, context).verdict).toBe('auth_failed');
    // Failures before a refused probe are not counted across it once the credentials work again.
    const after = {
      health: [probe(10, false), probe(20, false), refused(25, 'stable_refused'), probe(30, false)],
    };
    expect(evaluateRule(health, after, context)).toMatchObject({ verdict: 'healthy', value: 1 });
  });

  it('a 403 the stable revision answers 2xx to, or that could not be compared, counts against the candidate', () => {
    for (const auth of ['stable_accepted', 'stable_unreachable', 'stable_unanswered'] as const) {
      const samples = { health: [10, 20, 30].map((at) => ({ ...probe(at, false), status: 403, auth })) };
      expect(evaluateRule(health, samples, context)).toMatchObject({ verdict: 'unhealthy', value: 3 });
    }
  });

  it('the stable check reads the stable answer', () => {
    expect(stableCheck({ status: 401 })).toBe('stable_refused');
    expect(stableCheck({ status: 204 })).toBe('stable_accepted');
    expect(stableCheck({ status: 503 })).toBe('stable_unanswered');
    expect(stableCheck({})).toBe('stable_unanswered');
    expect(stableCheck(undefined)).toBe('stable_unreachable');
  });

  it('trips on the configured number of failures in a row', () => {
    const samples = { health: [probe(10, true), probe(20, false), probe(30, false), probe(40, false)] };
    const result = evaluateRule(health, samples, context);
    expect(result).toMatchObject({ verdict: 'unhealthy', value: 3 });
    expect(result.raw).toMatchObject({ failuresInARow: 3, target: 'service' });
  });

  it('a success in between resets the count; order is by time, not by arrival', () => {
    const samples = { health: [probe(40, false), probe(10, false), probe(30, true), probe(20, false)] };
    expect(evaluateRule(health, samples, context)).toMatchObject({ verdict: 'healthy', value: 1 });
  });

  it('each probed URL is judged on its own', () => {
    const samples = {
      health: [
        probe(10, false, 'tag'),
        probe(11, true, 'service'),
        probe(20, false, 'tag'),
        probe(21, true, 'service'),
        probe(30, false, 'tag'),
      ],
    };
    expect(evaluateRule(health, samples, context).raw).toMatchObject({ failuresInARow: 3, target: 'tag' });
  });

  it('ignores probes from before the watch and is insufficient data without probes', () => {
    const before = { health: [probe(-30, false), probe(-20, false), probe(-10, false)] };
    expect(evaluateRule(health, before, context).verdict).toBe('insufficient_data');
    expect(evaluateRule(health, { health: [] }, context).verdict).toBe('insufficient_data');
  });
});

describe('utilization rules', () => {
  const point = (minute: number, value: number) => ({
    start: T0 + minute * MIN,
    end: T0 + (minute + 1) * MIN,
    value,
  });

  it('compares the peak percentile value in the window', () => {
    const samples = {
      utilization: { 'cpu:p99': { query: 'cpu', items: [point(6, 0.5), point(7, 0.95)] } },
      health: [],
    };
    const result = evaluateRule(cpu, samples, context);
    expect(result).toMatchObject({ verdict: 'unhealthy', value: 0.95, action: 'alert' });
    const calm = {
      utilization: { 'cpu:p99': { query: 'cpu', items: [point(6, 0.5), point(11, 0.99)] } },
      health: [],
    };
    expect(evaluateRule(cpu, calm, context)).toMatchObject({ verdict: 'healthy', value: 0.5 });
  });

  it('is insufficient data without points', () => {
    expect(
      evaluateRule(cpu, { utilization: { 'cpu:p99': { query: 'cpu', items: [] } }, health: [] }, context)
        .verdict,
    ).toBe('insufficient_data');
  });
});

it('evaluates every rule and keeps the query for the audit trail', () => {
  const rules: Rule[] = [http5xx, http503, health, cpu];
  const results = evaluateRules(rules, requests([bucket(6, '200', 10)]), context);
  expect(results.map((result) => [result.rule, result.verdict])).toEqual([
    ['http_5xx', 'healthy'],
    ['http_503', 'insufficient_data'],
    ['health', 'insufficient_data'],
    ['cpu', 'insufficient_data'],
  ]);
  expect(results[0]?.query).toBe('q');
});
