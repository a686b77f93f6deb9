import { Registry } from 'prom-client';
import { EventBus } from '../events/event-bus.js';
import { NotificationDispatcher } from '../notify/dispatcher.js';
import { notifyOnEvents, targetsFromConfig } from '../notify/from-events.js';
import { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import { watchMetrics } from '../telemetry/metrics-watch.js';
import { buildWatchRuntime } from '../app/watch-runtime.js';
import { recordHistory } from '../watch/history-recorder.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import { commandLogger, type GlobalOptions, loadFromOptions } from './common.js';
import { abortOnStopSignals } from './interrupt.js';

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
  const loaded = loadFromOptions(options);
  const logger = commandLogger(loaded);
  const store = Store.open(loaded.config.state_dir);
  const events = new EventBus();
  events.onListenerError = (name, error) =>
    logger.error({ event: name, err: String(error) }, 'event listener failed');
  const { runtime, close } = buildWatchRuntime({
    config: loaded.config,
    store,
    events,
    logger,
    metrics: watchMetrics(new Registry()),
    owner: `cli:${process.pid}`,
  });
  const stopRecording = recordHistory(events, runtime.store.history);
  // A person's rollback or promotion is announced like the daemon's own.
  const notifier = new NotificationDispatcher(loaded.config.notify.targets, { logger });
  const stopNotifying = notifyOnEvents(events, notifier, targetsFromConfig(loaded.config.services));
  const interrupt = abortOnStopSignals('the command');
  try {
    return await work(runtime, interrupt.signal, logger);
  } finally {
    interrupt.dispose();
    stopRecording();
    stopNotifying();
    await notifier.close();
    await close();
    store.close();
  }
}

/** A `--service` option that must be given. */
export const SERVICE_FLAG = ['-s, --service <name>', 'the service, by its name in the config'] as const;
