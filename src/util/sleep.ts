/**
 * Resolves after `ms`. When `signal` aborts first the timer is cleared and the promise rejects with
 * the signal's own reason (not a generic AbortError), so a ShuttingDownError or RW_ABORTED reaches
 * the caller as itself. Without a signal it is a plain timer.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
