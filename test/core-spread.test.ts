import { describe, expect, it } from 'vitest';
import { spreadOffset } from '../src/core/spread.js';

describe('spreadOffset (probes spread over their interval)', () => {
  it('is stable: the same name and interval give the same offset, inside the interval', () => {
    for (const name of ['shop', 'shop-1', 'api', 'a', '']) {
      const offset = spreadOffset(name, 5_000);
      expect(offset).toBe(spreadOffset(name, 5_000));
      expect(Number.isInteger(offset)).toBe(true);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(5_000);
    }
  });

  it('spreads 500 services with near names over a 5 s interval: no tenth of it holds more than twice its share', () => {
    const slots = new Array<number>(10).fill(0);
    for (let index = 0; index < 500; index += 1) {
      slots[Math.floor(spreadOffset(`svc-${index}`, 5_000) / 500)]! += 1;
    }
    expect(Math.max(...slots)).toBeLessThanOrEqual(100);
    expect(Math.min(...slots)).toBeGreaterThanOrEqual(25);
    // And not a burst: at most a handful share any one millisecond.
    const perMs = new Map<number, number>();
    for (let index = 0; index < 500; index += 1) {
      const offset = spreadOffset(`svc-${index}`, 5_000);
      perMs.set(offset, (perMs.get(offset) ?? 0) + 1);
    }
    expect(Math.max(...perMs.values())).toBeLessThanOrEqual(3);
  });

  it('refuses an interval that is not a positive number, naming it', () => {
    expect(() => spreadOffset('shop', 0)).toThrow(/interval must be more than 0 ms, got 0/);
    expect(() => spreadOffset('shop', Number.NaN)).toThrow(/got NaN/);
  });
});
