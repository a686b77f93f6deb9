import { sleep } from '../util/sleep.js';
import { RetryableError, type RunwardenError, wrapError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';

/** How transient failures are retried: exponential backoff with jitter, bounded by a deadline. */
export interface RetryPolicy {
  /** Give up once this many ms have passed since the first attempt (or the next wait would pass it). */
  deadlineMs: number;
  /** First wait, ms. */
  initialDelayMs?: number;
  /** Longest wait, ms. */
  maxDelayMs?: number;
}

/** The wait before retry number `attempt` (1-based): doubling from the initial delay, capped, 50-100 % jitter. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const initial = policy.initialDelayMs ?? 100;
  const max = policy.maxDelayMs ?? 5_000;
  const full = Math.min(max, initial * 2 ** (attempt - 1));
  return Math.round(full * (0.5 + random() / 2));
}

/**
 * Runs `operation` until it succeeds, throws something other than a RetryableError, or the deadline
 * passes (then the last RetryableError is rethrown, saying how many attempts were made). The wait
 * between attempts ends early, with the signal's reason, when `signal` aborts.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal,
  options: {
    clock?: Clock;
    onRetry?: (error: RunwardenError, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  const clock = options.clock ?? Date.now;
  const started = clock();
  for (let attempt = 1; ; attempt += 1) {
    signal.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      const delay = backoffDelay(attempt, policy);
      if (clock() - started + delay > policy.deadlineMs) {
        throw wrapError(`gave up after ${attempt} attempt(s)`, error);
      }
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, signal);
    }
  }
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
