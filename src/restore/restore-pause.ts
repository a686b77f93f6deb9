/**
 * The steps of a restore, in order. Each is a point where a crash must leave the old database or
 * the new one; the kill -9 tests stop a real restore at each of them.
 */
export const RESTORE_STEPS = [
  'verified',
  'temp-written',
  'temp-checked',
  'safety-copied',
  'sidecars-removed',
  'renamed',
] as const;

export type RestoreStep = (typeof RESTORE_STEPS)[number];

/**
 * Where a restore of several targets (restore-all.ts) can be stopped: every target staged and its
 * safety copy taken; the journal written; `swapped-<n>` once the n-th swap is done.
 */
export type RestoreAllStep = 'all-staged' | 'journaled' | `swapped-${number}`;

/** Env variable naming a step at which a restore stops and waits to be killed (tests only). */
export const PAUSE_ENV = 'RUNWARDEN_TEST_RESTORE_PAUSE_AT';

/**
 * When PAUSE_ENV names `step`, announces it on stderr and never resolves, so a test can kill -9
 * the process at exactly this point. A no-op otherwise (one env lookup).
 */
export async function pausePoint(step: RestoreStep | RestoreAllStep): Promise<void> {
  if (process.env[PAUSE_ENV] !== step) return;
  process.stderr.write(`runwarden-test: restore paused at ${step}\n`);
  await new Promise<never>(() => {
    setInterval(() => {}, 60_000);
  });
}
