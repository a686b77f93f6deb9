/**
 * How long the poll of a project and region rests after Cloud Run refused it for quota
 * (RESOURCE_EXHAUSTED): a minute first (read quotas are per minute, so sooner would be refused
 * again), doubling while refusals go on, at most ten minutes. Pure.
 */
export const THROTTLE_FIRST_WAIT_MS = 60_000;
export const THROTTLE_MAX_WAIT_MS = 600_000;

/** The rest after `refusals` refusals in a row (1 = the first). */
export function throttleWait(refusals: number): number {
  const doublings = Math.max(0, Math.min(refusals - 1, 30));
  return Math.min(THROTTLE_FIRST_WAIT_MS * 2 ** doublings, THROTTLE_MAX_WAIT_MS);
}
