import { setTimeout as delay } from 'node:timers/promises';

/**
 * How long a wait may last, and what that bound was derived from (named when it is exceeded, so a
 * failure says which configured intervals the system under test overran).
 */
export interface Deadline {
  ms: number;
  basis: string;
}

export interface WaitOptions {
  /** Pause between checks, ms; a check that spawns a process paces itself. */
  every?: number;
}

/**
 * The one wait of the test suite: polls `check` until it returns a value other than undefined, and
 * fails only when a check that *began* after the deadline still found nothing. A check slowed down
 * by a loaded machine (a CLI process that takes seconds to start) therefore never turns a
 * condition that held in time into a timeout. `check` may throw to fail at once (a process that
 * exited when it should not have).
 */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  within: Deadline,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = performance.now() + within.ms;
  for (;;) {
    const began = performance.now();
    const value = await check();
    if (value !== undefined) return value;
    if (began > deadline)
      throw new Error(`timed out after ${Math.round(within.ms)} ms (${within.basis}) waiting for ${what}`);
    await delay(options.every ?? 25);
  }
}

/**
 * Waits for the wall clock to reach `at` (ms since epoch): a wait on time itself, for tests that need
 * a configured window to have passed (a watch deadline, a rule window aging out).
 */
export async function untilTime(at: number): Promise<void> {
  const left = at - Date.now();
  if (left > 0) await delay(left);
}

/** Adds deadlines up (a wait covering several steps), naming every part. */
export function plus(...parts: Deadline[]): Deadline {
  return {
    ms: parts.reduce((total, part) => total + part.ms, 0),
    basis: parts.map((part) => part.basis).join(' + '),
  };
}
