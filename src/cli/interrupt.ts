import { ExitCode, FatalError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * How every long-running command meets SIGINT/SIGTERM: the first one calls `first` (drain the
 * daemon, abort a command's work, end the demo or the playground) and any later one calls `again`,
 * by default an exit at once with code 1 (a person pressing Ctrl-C twice means "now"). Returns a
 * function that stops listening.
 */
export function onStopSignals(
  first: (signal: NodeJS.Signals) => void,
  again: (signal: NodeJS.Signals) => void = () => process.exit(ExitCode.failed),
): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) first(signal);
    else again(signal);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  return () => {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  };
}

/**
 * An AbortSignal that the first SIGINT/SIGTERM aborts with FatalError RW_ABORTED (`<what>
 * interrupted by SIGINT`); a second exits with code 1. `dispose` stops listening.
 */
export function abortOnStopSignals(
  what: string,
  onStop?: (signal: NodeJS.Signals) => void,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const dispose = onStopSignals((name) => {
    onStop?.(name);
    controller.abort(new FatalError('RW_ABORTED', `${what} interrupted by ${name}`));
  });
  return { signal: controller.signal, dispose };
}

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
  const { signal, dispose } = abortOnStopSignals(what, (name) => logger.warn({ signal: name }, onStop));
  try {
    return await work(signal);
  } finally {
    dispose();
  }
}
