import { describe, expect, it } from 'vitest';
import { compareWithStable, countErrors, normalCdf } from '../src/core/stable-comparison.js';

describe('the comparison of a candidate with stable (5xx ratios)', () => {
  it('catches a candidate twice as bad as stable, and at least a point above, beyond chance', () => {
    // 4 % vs 1 % over 1000 requests each: z about 4.3.
    const result = compareWithStable({ errors: 40, total: 1000 }, { errors: 10, total: 1000 });
    expect(result.verdict).toBe('unhealthy');
    expect(result.p).toBeLessThan(0.001);
    expect(result.detail).toContain('worse than stable');
  });

  it('too few requests on either side is insufficient data, never a pass', () => {
    expect(compareWithStable({ errors: 100, total: 199 }, { errors: 0, total: 5000 }).verdict).toBe(
      'insufficient_data',
    );
    const few = compareWithStable({ errors: 0, total: 5000 }, { errors: 0, total: 150 });
    expect(few.verdict).toBe('insufficient_data');
    expect(few.detail).toContain('at least 200 each');
    expect(few.p).toBeNull();
  });

  it('a difference within chance passes', () => {
    // 3 % vs 1.5 % over 200 each: twice as bad and 1.5 points above, but p is about 0.16.
    const result = compareWithStable({ errors: 6, total: 200 }, { errors: 3, total: 200 });
    expect(result.verdict).toBe('healthy');
    expect(result.p).toBeGreaterThan(0.01);
  });

  it('a significant difference smaller than twice stable passes', () => {
    // 6 % vs 4 % over 20 000 each: p far below 0.01, but only 1.5x.
    const result = compareWithStable({ errors: 1200, total: 20_000 }, { errors: 800, total: 20_000 });
    expect(result.p).toBeLessThan(0.01);
    expect(result.verdict).toBe('healthy');
  });

  it('a significant doubling below one percentage point passes', () => {
    // 0.4 % vs 0.2 % over 200 000 each: significant and 2x, but 0.2 points.
    const result = compareWithStable({ errors: 800, total: 200_000 }, { errors: 400, total: 200_000 });
    expect(result.p).toBeLessThan(0.01);
    expect(result.verdict).toBe('healthy');
  });

  it('any 5xx on a candidate against a clean stable counts once significant and a point above', () => {
    expect(compareWithStable({ errors: 12, total: 400 }, { errors: 0, total: 400 }).verdict).toBe(
      'unhealthy',
    );
    expect(compareWithStable({ errors: 2, total: 400 }, { errors: 0, total: 400 }).verdict).toBe('healthy');
  });

  it('a candidate better than stable passes; no errors on either side passes', () => {
    expect(compareWithStable({ errors: 0, total: 500 }, { errors: 50, total: 500 }).verdict).toBe('healthy');
    const clean = compareWithStable({ errors: 0, total: 500 }, { errors: 0, total: 500 });
    expect(clean.verdict).toBe('healthy');
    expect(clean.z).toBe(0);
  });

  it('refuses counts that cannot be, naming the side', () => {
    expect(() => compareWithStable({ errors: 5, total: 4 }, { errors: 0, total: 300 })).toThrow(
      /candidate counts/,
    );
    expect(() => compareWithStable({ errors: 0, total: 300 }, { errors: -1, total: 300 })).toThrow(
      /stable counts/,
    );
  });

  it('the normal CDF matches known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(2.326348)).toBeCloseTo(0.99, 5);
    expect(normalCdf(-1.959964)).toBeCloseTo(0.025, 5);
  });

  it('counts 5xx and all requests of the buckets inside the window only', () => {
    const buckets = [
      { start: 0, end: 1000, responseCodeClass: '2xx', count: 7 },
      { start: 1000, end: 2000, responseCodeClass: '5xx', count: 3 },
      { start: 1000, end: 2000, responseCodeClass: '2xx', count: 10 },
      { start: 2000, end: 3000, responseCodeClass: '5xx', count: 99 },
    ];
    expect(countErrors(buckets, { start: 1000, end: 2000 })).toEqual({ errors: 3, total: 13 });
  });
});
