import { describe, expect, it } from 'vitest';
import {
  holderDeadline,
  holderMayAct,
  type LeaseTiming,
  mayTakeOver,
  parseLeaseRecord,
  renewAt,
  retryDelay,
  sight,
  standbyPollInterval,
  takeOverAt,
} from '../src/core/lease.js';

const TIMING: LeaseTiming = { ttlMs: 15_000, marginMs: 3_000 };

describe('a lease holder', () => {
  const held = { generation: 7, confirmedAt: 1_000 };

  it('renews a third of the TTL after the start of its last successful renew', () => {
    expect(renewAt(held, TIMING)).toBe(6_000);
  });

  it('has its deadline a TTL after the start of its last successful renew request', () => {
    expect(holderDeadline(held, TIMING)).toBe(16_000);
  });

  it('stops acting a margin before its deadline, and not a millisecond later', () => {
    expect(holderMayAct(held, 1_000, TIMING)).toBe(true);
    expect(holderMayAct(held, 12_999, TIMING)).toBe(true);
    expect(holderMayAct(held, 13_000, TIMING)).toBe(false);
    expect(holderMayAct(held, 16_000, TIMING)).toBe(false);
  });

  it('retries a failed renew several times within one TTL, never in a tight loop', () => {
    expect(retryDelay(TIMING)).toBe(1_500);
    expect(TIMING.ttlMs / retryDelay(TIMING)).toBeGreaterThanOrEqual(5);
    expect(retryDelay({ ttlMs: 300, marginMs: 100 })).toBe(100);
  });
});

describe('a standby', () => {
  it('takes a lease that has no object at once', () => {
    const seen = sight(undefined, 0, undefined, 500);
    expect(mayTakeOver(seen, 500, TIMING)).toBe(true);
    expect(takeOverAt(seen, TIMING)).toBe(500);
  });

  it('counts the TTL from when it first saw a generation, on its own clock', () => {
    const first = sight(undefined, 42, 15_000, 2_000);
    const later = sight(first, 42, 15_000, 9_000);
    expect(later).toBe(first);
    expect(mayTakeOver(later, 16_999, TIMING)).toBe(false);
    expect(mayTakeOver(later, 17_000, TIMING)).toBe(true);
    expect(takeOverAt(later, TIMING)).toBe(17_000);
  });

  it('starts counting again when the generation changes (the holder renewed)', () => {
    const first = sight(undefined, 42, 15_000, 2_000);
    const renewed = sight(first, 43, 15_000, 16_000);
    expect(renewed).toEqual({ generation: 43, firstSeenAt: 16_000, ttlMs: 15_000 });
    expect(mayTakeOver(renewed, 17_000, TIMING)).toBe(false);
  });

  it("honours a holder's longer TTL than its own", () => {
    const seen = sight(undefined, 42, 60_000, 0);
    expect(mayTakeOver(seen, 15_000, TIMING)).toBe(false);
    expect(mayTakeOver(seen, 60_000, TIMING)).toBe(true);
  });

  it('can only take over after the holder stopped acting, whatever the holder wrote', () => {
    // The holder's request starts at 1_000 and is acknowledged at 1_400; the standby's first read
    // after the write happens at 1_500 at the earliest.
    const held = { generation: 9, confirmedAt: 1_000 };
    const seen = sight(undefined, 9, 15_000, 1_500);
    expect(takeOverAt(seen, TIMING)).toBeGreaterThan(holderDeadline(held, TIMING) - TIMING.marginMs);
    expect(takeOverAt(seen, TIMING)).toBeGreaterThanOrEqual(holderDeadline(held, TIMING));
  });

  it('reads the object ten times per TTL', () => {
    expect(standbyPollInterval(TIMING)).toBe(1_500);
  });
});

describe('the lease object', () => {
  it('is read back as written', () => {
    const record = { holder: 'vm-1/daemon:12/ab12', since: '2026-12-03T22:00:00.000Z', ttl_ms: 15_000 };
    expect(parseLeaseRecord(JSON.stringify(record))).toEqual(record);
  });

  it('names what is wrong with a body that is not a lease', () => {
    expect(parseLeaseRecord('{')).toEqual({ problem: 'the lease object is not JSON' });
    expect(parseLeaseRecord('[]')).toEqual({ problem: 'the lease object has no holder' });
    expect(parseLeaseRecord('null')).toEqual({ problem: 'the lease object is not a JSON object' });
    expect(parseLeaseRecord('{"holder":"a","since":"yesterday","ttl_ms":1}')).toEqual({
      problem: 'the lease object has no valid since time',
    });
    expect(parseLeaseRecord('{"holder":"a","since":"2026-01-01T00:00:00Z","ttl_ms":-1}')).toEqual({
      problem: 'the lease object has no positive ttl_ms',
    });
  });
});
