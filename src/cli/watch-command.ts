import type { Logger } from '../telemetry/logger.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import type { GlobalOptions } from './common.js';
import { abortOnStopSignals } from './interrupt.js';
import { withApp } from './with-app.js';

/**
 * Runs a deploy-watch command: the same store the daemon uses (WAL: both may be open at once), the
 * real Cloud Run client, and the audit history recorded from this process's events. How a command
 * and a running daemon stay out of each other's way:
 * - every traffic change is conditional on the etag read just before it, so neither ever
 *   overwrites the other's change; the loser re-reads and decides again (or reports it);
 * - a per-service action lease in the store (owner "cli:<pid>" or "daemon:<pid>") is held while
 *   traffic is changed, so bookkeeping (stable, bad, watch status) never interleaves;
 * - ending a watch is compare-and-set on its status, and freeze/unfreeze is read by the daemon at
 *   its next tick.
 * Events are recorded in the history and sent to the notify targets, as the daemon's are.
 * The first SIGINT/SIGTERM aborts the command (a traffic update already sent is not undone).
 */
export async function withWatchRuntime<T>(
  options: GlobalOptions,
  work: (runtime: WatchRuntime, signal: AbortSignal, logger: Logger) => Promise<T>,
): Promise<T> {
  return withApp(options, 'write', async (app) => {
    const runtime = await app.watch();
    // A person's rollback or promotion is announced like the daemon's own.
    await app.notifier();
    const interrupt = abortOnStopSignals('the command');
    try {
      return await work(runtime, interrupt.signal, app.logger);
    } finally {
      interrupt.dispose();
    }
  });
}

/** A `--service` option that must be given. */
export const SERVICE_FLAG = ['-s, --service <name>', 'the service, by its name in the config'] as const;
