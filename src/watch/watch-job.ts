import type { Job, Scheduler } from '../daemon/scheduler.js';
import { probeJob } from './probe-job.js';
import type { WatchRuntime } from './watch-runtime.js';
import { tickService } from './watch-tick.js';
import type { WatchedService } from './watched-service.js';

/** The deploy watch of one service as a job: one tick per run. Tests call `runOnce` directly. */
export function watchJob(rt: WatchRuntime, service: WatchedService): Job {
  return { name: `watch:${service.key}`, runOnce: (signal) => tickService(rt, service, signal) };
}

/**
 * Schedules, per service, the watch tick every `poll_interval` and the probes every
 * `probe_interval`, both at once at start (a restarted daemon resumes open watches right away).
 */
export function scheduleWatches(rt: WatchRuntime, scheduler: Scheduler): void {
  for (const service of rt.services) {
    const tick = watchJob(rt, service);
    scheduler.every(service.config.poll_interval, tick, true);
    scheduler.every(
      service.config.probe_interval,
      probeJob(rt, service, () => scheduler.fire(tick)),
      true,
    );
  }
}
