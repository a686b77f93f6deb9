/**
 * The decisions of a leader lease kept in one object of a strongly consistent store (Cloud Storage),
 * taken and renewed by compare-and-swap on the object's generation. Every time here is read from
 * the deciding host's own monotonic clock (ms): hosts never compare wall clocks. The reasoning:
 * - a holder's lease ends, for itself, at the START of its last successful renew request plus the
 *   TTL; it stops acting `margin` before that (a slow clock, a request in flight);
 * - a standby counts the TTL from the moment it FIRST SAW the current generation, which is after the
 *   write that made it finished, so after the holder's request started: its "expired" can only come
 *   after the holder's own deadline (up to clock rate drift, which the margin covers).
 * A lost compare-and-swap means someone else wrote the object: the lease is lost at once.
 */

/** The object's body: who holds it, since when (wall clock, for people), and the TTL it promises. */
export interface LeaseRecord {
  holder: string;
  /** ISO time the holder took the lease (kept across renewals). */
  since: string;
  ttl_ms: number;
}

export interface LeaseTiming {
  ttlMs: number;
  /** The holder sends nothing later than its deadline minus this. */
  marginMs: number;
}

/** What a holder knows of the lease it holds. */
export interface HeldLease {
  generation: number;
  /** Monotonic ms at which the last successful take or renew request was sent. */
  confirmedAt: number;
}

/** What a standby has seen of the object: the generation and when it first saw it (monotonic ms). */
export interface Sighting {
  /** 0: there was no object. */
  generation: number;
  firstSeenAt: number;
  /** The TTL the holder wrote into the object (a longer one than ours is honoured). */
  ttlMs: number;
}

/** The holder's own deadline: after it, a standby may have taken the lease. */
export function holderDeadline(held: HeldLease, timing: LeaseTiming): number {
  return held.confirmedAt + timing.ttlMs;
}

/** Whether the holder may still send an action at `now`: strictly before deadline minus margin. */
export function holderMayAct(held: HeldLease, now: number, timing: LeaseTiming): boolean {
  return now < holderDeadline(held, timing) - timing.marginMs;
}

/** When the holder renews next: a third of the TTL after the last confirmed renew. */
export function renewAt(held: HeldLease, timing: LeaseTiming): number {
  return held.confirmedAt + Math.floor(timing.ttlMs / 3);
}

/**
 * When a failed renew is tried again: soon (a tenth of the TTL, at least 100 ms) so a short outage
 * is ridden out well within the TTL, but never in a tight loop.
 */
export function retryDelay(timing: LeaseTiming): number {
  return Math.max(100, Math.floor(timing.ttlMs / 10));
}

/**
 * How often a standby reads the object. A tenth of the TTL: failover takes at most TTL + this after
 * the holder's last renew (the standby's first sight of a generation lags the write by at most one
 * read), at 10 reads per TTL.
 */
export function standbyPollInterval(timing: LeaseTiming): number {
  return Math.max(100, Math.floor(timing.ttlMs / 10));
}

/** The standby's sighting after reading `generation` at `now`: kept when unchanged, new otherwise. */
export function sight(
  previous: Sighting | undefined,
  generation: number,
  recordTtlMs: number | undefined,
  now: number,
): Sighting {
  if (previous && previous.generation === generation) return previous;
  return { generation, firstSeenAt: now, ttlMs: recordTtlMs ?? 0 };
}

/**
 * Whether a standby may take the lease at `now`: there is no object, or its generation has not
 * changed for a whole TTL (the longer of ours and the holder's) since this standby first saw it.
 */
export function mayTakeOver(sighting: Sighting, now: number, timing: LeaseTiming): boolean {
  if (sighting.generation === 0) return true;
  return now - sighting.firstSeenAt >= Math.max(timing.ttlMs, sighting.ttlMs);
}

/** When a standby that saw `sighting` could take the lease at the earliest (monotonic ms). */
export function takeOverAt(sighting: Sighting, timing: LeaseTiming): number {
  if (sighting.generation === 0) return sighting.firstSeenAt;
  return sighting.firstSeenAt + Math.max(timing.ttlMs, sighting.ttlMs);
}

/**
 * Parses the object's body. A body that is not a lease record (hand-written, truncated) names what
 * is wrong; the caller treats the object as held by an unknown holder, so a standby still waits a
 * TTL before overwriting it.
 */
export function parseLeaseRecord(bytes: string): LeaseRecord | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(bytes);
  } catch {
    return { problem: 'the lease object is not JSON' };
  }
  if (typeof value !== 'object' || value === null)
    return { problem: 'the lease object is not a JSON object' };
  const record = value as Record<string, unknown>;
  if (typeof record.holder !== 'string' || record.holder === '')
    return { problem: 'the lease object has no holder' };
  if (typeof record.since !== 'string' || Number.isNaN(Date.parse(record.since)))
    return { problem: 'the lease object has no valid since time' };
  if (typeof record.ttl_ms !== 'number' || !Number.isFinite(record.ttl_ms) || record.ttl_ms <= 0)
    return { problem: 'the lease object has no positive ttl_ms' };
  return { holder: record.holder, since: record.since, ttl_ms: record.ttl_ms };
}
