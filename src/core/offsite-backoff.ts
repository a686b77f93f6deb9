/**
 * When a failed off-site copy is tried again: 30 s after the first failure, doubling, at most an
 * hour apart. Never given up: an archive that is not off-site is still at risk, and the backlog's age
 * is what alerts a person. Pure.
 */
export const OFFSITE_FIRST_RETRY_MS = 30_000;
export const OFFSITE_MAX_RETRY_MS = 3_600_000;

/** The delay before the next attempt after `attempts` failed ones (1 = the first failed). */
export function offsiteRetryDelay(attempts: number): number {
  const doublings = Math.max(0, Math.min(attempts - 1, 30));
  return Math.min(OFFSITE_FIRST_RETRY_MS * 2 ** doublings, OFFSITE_MAX_RETRY_MS);
}
