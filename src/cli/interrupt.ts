import { FatalError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Runs a command's `work` so that the first SIGINT/SIGTERM aborts its signal (the work stops where
 * it may stop safely, and says so with `onStop`), and a second exits at once with code 1.
 */
export async function withInterrupt<T>(
  logger: Logger,
  what: string,
  onStop: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(1);
    logger.warn({ signal: name }, onStop);
    controller.abort(new FatalError('RW_ABORTED', `${what} interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
