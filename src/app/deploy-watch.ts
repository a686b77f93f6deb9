import { observeWatch } from '../telemetry/metrics-watch.js';
import { type NudgeableJob, scheduleWatches } from '../watch/watch-job.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import type { DaemonContext } from './daemon-context.js';

export interface DeployWatch {
  runtime: WatchRuntime;
  /** Each service's tick job. */
  ticks: NudgeableJob[];
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
  const ticks = scheduleWatches(runtime, context.scheduler);
  return { runtime, ticks, close: stopObserving };
}
