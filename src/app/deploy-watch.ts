import { observeWatch } from '../telemetry/metrics-watch.js';
import { scheduleWatches } from '../watch/watch-job.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import type { DaemonContext } from './daemon-context.js';

export interface DeployWatch {
  runtime: WatchRuntime;
  close(): void;
}

/**
 * The deploy watch inside the daemon: a tick job and a probe job per service on the scheduler, the
 * pre-deploy backup on the work tracker (shutdown waits for it), metrics fed by events. The app
 * records its events in the history and closes its clients.
 */
export async function startDeployWatch(context: DaemonContext): Promise<DeployWatch> {
  const runtime = await context.app.watch();
  const stopObserving = observeWatch(context.events, context.metrics.watch);
  scheduleWatches(runtime, context.scheduler);
  return { runtime, close: stopObserving };
}
