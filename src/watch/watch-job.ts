import { spreadOffset } from '../core/spread.js';
import type { Job, Scheduler } from '../daemon/scheduler.js';
import { guardService } from './guard-tick.js';
import { probeJob } from './probe-job.js';
import type { WatchRuntime } from './watch-runtime.js';
import { tickService } from './watch-tick.js';
import type { WatchedService } from './watched-service.js';

/** A watch job, and `nudge` to have it run again as soon as possible (at once, or right after the running pass). */
export interface NudgeableJob extends Job {
  nudge(fire: () => void): void;
}

/** The deploy watch of one service as a job: one tick per run. Tests call `runOnce` directly. */
export function watchJob(rt: WatchRuntime, service: WatchedService): NudgeableJob {
  let running = false;
  let again = false;
  return {
    name: `watch:${service.key}`,
    runOnce: async (signal) => {
      running = true;
      try {
        // A nudge that came during a pass is not lost: the pass runs once more right away.
        do {
          again = false;
          await tickService(rt, service, signal);
        } while (again && !signal.aborted);
      } finally {
        running = false;
      }
    },
    nudge(fire) {
      if (running) again = true;
      else fire();
    },
  };
}

/** The guard on the serving revision of one service as a job: one pass per run. */
export function guardJob(rt: WatchRuntime, service: WatchedService): Job {
  return { name: `guard:${service.key}`, runOnce: (signal) => guardService(rt, service, signal) };
}

/**
 * Schedules, per service, the watch tick every `poll_interval` (the ticks of one interval together),
 * at once at start (a restarted daemon
 * resumes open watches right away), the probes every `probe_interval`, each service at its own
 * stable offset within the interval (500 services probe a few at a time, not in one burst of 500
 * connections; the first probes follow the start's poll), and the guard every `guard.interval`
 * (first after one interval: it reads the tick's poll).
 * A failed probe nudges the tick, so a failing candidate is judged without waiting for the poll.
 * Returns the tick jobs (a new leader nudges them: what is owed is settled at once).
 */
export function scheduleWatches(rt: WatchRuntime, scheduler: Scheduler): NudgeableJob[] {
  // Ticks of one poll interval fire together, from one timer: they share one ListServices per
  // region (region-polls.ts) only if they ask while it is in flight.
  const ticks = new Map<number, NudgeableJob[]>();
  for (const service of rt.services) {
    const tick = watchJob(rt, service);
    const group = ticks.get(service.config.poll_interval) ?? [];
    group.push(tick);
    ticks.set(service.config.poll_interval, group);
    const probes = probeJob(rt, service, () => tick.nudge(() => scheduler.fire(tick)));
    scheduler.every(service.config.probe_interval, probes, {
      afterMs: spreadOffset(service.key, service.config.probe_interval),
    });
    scheduler.every(service.config.guard.interval, guardJob(rt, service));
  }
  for (const [interval, group] of ticks) scheduler.everyTogether(interval, group, true);
  return [...ticks.values()].flat();
}
