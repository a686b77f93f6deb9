import { describe, expect, it } from 'vitest';
import {
  bucketBounds,
  defaultLatencyMinRequests,
  type LatencyPoint,
  latencyPercentile,
  mergeLatencies,
} from '../src/core/latency.js';
import { evaluateRule, type LatencyRule, latencyQueryWindow, type Samples } from '../src/core/rules.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const windows = { alignmentMs: MIN, reportingDelayMs: 3 * MIN };
/** Finite buckets [0,100) [100,200) [200,400) [400,800) [800,1600): underflow < 0, overflow >= 1600. */
const BOUNDS = [0, 100, 200, 400, 800, 1600];

function point(minute: number, counts: number[], bounds: readonly number[] = BOUNDS): LatencyPoint {
  const start = T0 + minute * MIN;
  return { start, end: start + MIN, bounds, counts };
}

function merged(...points: LatencyPoint[]) {
  const result = mergeLatencies(points);
  if (!result.ok) throw new Error(result.problem);
  return result.merged;
}

describe('latency percentiles from distribution buckets', () => {
  it('adds the buckets of every point first, then interpolates inside the bucket holding the rank', () => {
    // 10 requests in [0,100) one minute, 10 in [200,400) the next: the median is the edge of both.
    const both = merged(point(0, [0, 10]), point(1, [0, 0, 0, 10]));
    expect(both.count).toBe(20);
    expect(latencyPercentile(both, 0.5)).toEqual({ value: 100, atLeast: false });
    // p75: rank 15, five into the 10 of [200,400): halfway.
    expect(latencyPercentile(both, 0.75)).toEqual({ value: 300, atLeast: false });
    // p95: rank 19 of 20: 9/10 of the way through [200,400).
    expect(latencyPercentile(both, 0.95)?.value).toBeCloseTo(380, 9);
  });

  it('weighs a busy minute more than a quiet one (no averaging of per-minute percentiles)', () => {
    const busyFast = point(0, [0, 99]);
    const quietSlow = point(1, [0, 0, 0, 0, 1]);
    const value = latencyPercentile(merged(busyFast, quietSlow), 0.5)?.value ?? -1;
    expect(value).toBeLessThan(100);
  });

  it('skips empty buckets, and a rank on a bucket edge takes the lower bucket’s upper bound', () => {
    const gaps = merged(point(0, [0, 5, 0, 0, 5]));
    expect(latencyPercentile(gaps, 0.5)).toEqual({ value: 100, atLeast: false });
    expect(latencyPercentile(gaps, 0.6)?.value).toBeCloseTo(480, 9);
  });

  it('the underflow bucket spans 0 to the first bound; the overflow bucket gives its lower bound, marked at least', () => {
    const exponential = [1, 2, 4, 8];
    const under = merged(point(0, [4], exponential));
    expect(latencyPercentile(under, 0.5)).toEqual({ value: 0.5, atLeast: false });
    const over = merged(point(0, [0, 0, 0, 0, 3], exponential));
    expect(latencyPercentile(over, 0.99)).toEqual({ value: 8, atLeast: true });
  });

  it('an empty window has no percentile; p0 and p100 stay inside the populated buckets', () => {
    expect(latencyPercentile(merged(), 0.99)).toBeNull();
    expect(latencyPercentile(merged(point(0, [0, 0, 0])), 0.5)).toBeNull();
    const one = merged(point(0, [0, 0, 0, 4]));
    expect(latencyPercentile(one, 0)?.value).toBe(200);
    expect(latencyPercentile(one, 1)?.value).toBe(400);
  });

  it('refuses to add points with different bucket layouts, or more buckets than the bounds allow', () => {
    expect(mergeLatencies([point(0, [1]), point(1, [1], [0, 50])])).toMatchObject({
      ok: false,
      problem: expect.stringContaining('different bucket layouts'),
    });
    expect(mergeLatencies([point(0, [1, 1, 1, 1, 1, 1, 1, 1])])).toMatchObject({
      ok: false,
      problem: expect.stringContaining('8 buckets for 6 bounds'),
    });
  });

  it('reads linear, exponential and explicit bucket options; refuses degenerate ones', () => {
    expect(bucketBounds({ linear: { numFiniteBuckets: 2, width: 10, offset: 5 } })).toEqual([5, 15, 25]);
    expect(bucketBounds({ exponential: { numFiniteBuckets: 3, growthFactor: 2, scale: 1 } })).toEqual([
      1, 2, 4, 8,
    ]);
    expect(bucketBounds({ explicit: [1, 5, 10] })).toEqual([1, 5, 10]);
    expect(bucketBounds({ explicit: [1, 5, 5] })).toBeNull();
    expect(bucketBounds({ exponential: { numFiniteBuckets: 3, growthFactor: 1, scale: 1 } })).toBeNull();
    expect(bucketBounds({})).toBeNull();
  });

  it('the default minimum keeps at least five requests above the percentile', () => {
    expect([50, 95, 99].map(defaultLatencyMinRequests)).toEqual([10, 100, 500]);
  });
});

describe('latency rules', () => {
  const p95: LatencyRule = {
    name: 'slow',
    signal: 'latency',
    percentile: 95,
    threshold: 300,
    windowMs: 2 * MIN,
    minRequests: 100,
    action: 'rollback',
  };
  // At T0 + 5m30s, with a 3-minute delay, the window is [T0+0m, T0+2m).
  const context = { now: T0 + 5 * MIN + 30_000, since: T0 - MIN, windows };
  const samples = (items: LatencyPoint[]): Samples => ({ latency: { query: 'q', items }, health: [] });

  it('trips when the percentile of the merged window is above the threshold, healthy at or below it', () => {
    const slow = evaluateRule(p95, samples([point(0, [0, 50]), point(1, [0, 0, 0, 0, 60])]), context);
    expect(slow).toMatchObject({ verdict: 'unhealthy', threshold: 300, raw: { requests: 110, points: 2 } });
    expect(slow.value).toBeGreaterThan(300);
    expect(slow.detail).toMatch(/^p95 latency .* over 110 requests in 2m > 300ms$/);
    const fast = evaluateRule(p95, samples([point(0, [0, 120])]), context);
    expect(fast).toMatchObject({ verdict: 'healthy', value: 95 });
  });

  it('points outside the window are not counted', () => {
    const outside = evaluateRule(
      p95,
      samples([point(-1, [0, 0, 0, 0, 500]), point(2, [0, 0, 0, 0, 500])]),
      context,
    );
    expect(outside).toMatchObject({ verdict: 'insufficient_data', raw: { requests: 0 } });
  });

  it('too few requests is insufficient data, never a pass or a trip', () => {
    const few = evaluateRule(p95, samples([point(0, [0, 0, 0, 0, 0, 99])]), context);
    expect(few).toMatchObject({ verdict: 'insufficient_data', value: null });
    expect(few.detail).toBe('99 requests in 2m < minimum 100 for p95');
  });

  it('unreadable or incomparable latencies are insufficient data, saying why', () => {
    expect(evaluateRule(p95, { health: [] }, context)).toMatchObject({
      verdict: 'insufficient_data',
      detail: 'request latencies could not be fetched',
    });
    const mixed = evaluateRule(p95, samples([point(0, [0, 100]), point(1, [0, 100], [0, 10])]), context);
    expect(mixed.detail).toContain('different bucket layouts');
    expect(evaluateRule(p95, samples([]), { ...context, since: T0 + 3 * MIN })).toMatchObject({
      verdict: 'insufficient_data',
      detail: 'no complete reported minute since the watch started',
    });
  });

  it('the overflow bucket trips a threshold below its bound, reported as at least', () => {
    const over = evaluateRule(p95, samples([point(0, [0, 0, 0, 0, 0, 0, 200])]), context);
    expect(over).toMatchObject({ verdict: 'unhealthy', value: 1600, raw: { atLeast: true } });
    expect(over.detail).toContain('>= 1.6s');
  });

  it('one query covers the widest latency rule', () => {
    const wide = { ...p95, name: 'wide', windowMs: 10 * MIN };
    expect(latencyQueryWindow([p95, wide], context.now, windows)).toEqual({
      start: T0 + 2 * MIN - 10 * MIN,
      end: T0 + 2 * MIN,
    });
    expect(latencyQueryWindow([], context.now, windows)).toBeUndefined();
  });
});
