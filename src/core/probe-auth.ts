/**
 * Whose fault is a refused probe? A revision answering 401/403 may be broken (an app bug) or the
 * probe's credentials may be wrong (missing roles/run.invoker, wrong audience). The answer is never
 * guessed: the stable revision is asked with the same credentials, and only its answer decides.
 * Pure decisions; the probe job gathers the answers.
 */

/**
 * What is known about a refused probe's credentials:
 * - token_failed: no ID token could be had at all (nothing was probed);
 * - stable_refused: the stable revision refused the same credentials too (the credentials are wrong);
 * - stable_accepted: the stable revision answered 2xx to them (the candidate is at fault);
 * - stable_unanswered: the stable revision answered something else, or failed (nothing learned);
 * - stable_unreachable: no URL reaches the stable revision alone (no tag, not serving on its own).
 */
export type ProbeAuthCheck =
  | 'token_failed'
  | 'stable_refused'
  | 'stable_accepted'
  | 'stable_unanswered'
  | 'stable_unreachable';

/** The code of the watch:failure event that announces auth_failed (operation probe_auth). */
export const PROBE_AUTH_FAILED = 'RW_PROBE_AUTH';

/** The error code of a probe that did not run because no ID token could be had. */
export const TOKEN_FAILED = 'RW_PROBE_TOKEN';

/** 401 (no or invalid token) and 403 (wrong audience, or a principal without run.invoker). */
export function isAuthRefusal(status: number | undefined): boolean {
  return status === 401 || status === 403;
}

/** What the stable revision's answer to the same credentials says. */
export function stableCheck(stable: { status?: number | undefined } | undefined): ProbeAuthCheck {
  if (!stable) return 'stable_unreachable';
  if (isAuthRefusal(stable.status)) return 'stable_refused';
  if (stable.status !== undefined && stable.status >= 200 && stable.status < 300) return 'stable_accepted';
  return 'stable_unanswered';
}

/**
 * A probe that says nothing about the candidate because the credentials are at fault: no token at
 * all, or a 401/403 that the stable revision gave too. Every other failure counts against it,
 * including a 401/403 whose cause could not be told (the candidate is not excused by a guess).
 */
export function probeAuthFailed(sample: {
  status?: number | undefined;
  auth?: ProbeAuthCheck | undefined;
}): boolean {
  if (sample.auth === 'token_failed') return true;
  return isAuthRefusal(sample.status) && sample.auth === 'stable_refused';
}
