import type { DaemonContext } from './daemon.js';
import { errorMessage } from '../core/errors.js';
import { observeWatch } from '../telemetry/metrics-watch.js';
import { buildWatchRuntime } from './watch-runtime.js';
import { recordHistory } from '../watch/history-recorder.js';
import { requestRollback } from '../watch/rollback.js';
import type { RollbackOutcome, RollbackRequest } from '../watch/rollback-request.js';
import { scheduleWatches } from '../watch/watch-job.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';

export interface DeployWatch {
  runtime: WatchRuntime;
  /** The one rollback path, for the alert receivers and anything else in the daemon. */
  requestRollback(request: RollbackRequest, signal: AbortSignal): Promise<RollbackOutcome>;
  close(): Promise<void>;
}

/**
 * The deploy watch inside the daemon: a tick job and a probe job per service on the scheduler, the
 * pre-deploy backup on the work tracker (shutdown waits for it), history and metrics fed by events.
 */
export function startDeployWatch(context: DaemonContext): DeployWatch {
  const logger = context.logger.child({ component: 'watch' });
  const { runtime, close } = buildWatchRuntime({
    config: context.config,
    store: context.store,
    events: context.events,
    logger,
    metrics: context.metrics.watch,
    owner: `daemon:${process.pid}`,
    background: (name, work) => {
      context.work
        .run(name, work)
        .catch((error: unknown) =>
          logger.error({ work: name, err: errorMessage(error) }, 'background work failed'),
        );
    },
  });
  const offs = [
    recordHistory(context.events, runtime.store.history),
    observeWatch(context.events, context.metrics.watch),
  ];
  scheduleWatches(runtime, context.scheduler);
  const rollback = (request: RollbackRequest, signal: AbortSignal) =>
    requestRollback(runtime, request, signal);
  return {
    runtime,
    requestRollback: rollback,
    close: async () => {
      for (const off of offs) off();
      await close();
    },
  };
}
