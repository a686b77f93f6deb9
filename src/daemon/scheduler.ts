import cron from 'node-cron';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { WorkTracker } from './work.js';

/** A job the daemon runs repeatedly. `runOnce` does one pass; tests call it directly. */
export interface Job {
  readonly name: string;
  runOnce(signal: AbortSignal): Promise<void>;
}

/**
 * A thin timer around jobs: each firing runs `runOnce` through the work tracker, never two passes
 * of the same job at once (a slow pass makes the next firing skip, with a log line).
 */
export class Scheduler {
  readonly #stops: Array<() => void> = [];
  readonly #busy = new Set<string>();
  readonly #scheduled: string[] = [];

  constructor(
    private readonly work: WorkTracker,
    private readonly logger: Logger,
    /** Told of every failed run, after it is logged (the daemon counts store errors). */
    private readonly onJobError: (job: string, error: unknown) => void = () => {},
  ) {}

  /**
   * Runs `job` every `intervalMs`: first after `intervalMs`, at once when `start` is true, or after
   * `start.afterMs` (an offset within the interval, so jobs of the same interval can be spread).
   */
  every(intervalMs: number, job: Job, start: boolean | { afterMs: number } = false): void {
    this.#scheduled.push(job.name);
    if (typeof start === 'object') {
      const first = setTimeout(() => {
        this.fire(job);
        this.#repeat(intervalMs, job, false);
      }, start.afterMs);
      first.unref();
      this.#stops.push(() => clearTimeout(first));
      return;
    }
    this.#repeat(intervalMs, job, start);
  }

  #repeat(intervalMs: number, job: Job, now: boolean): void {
    const timer = setInterval(() => this.fire(job), intervalMs);
    timer.unref();
    this.#stops.push(() => clearInterval(timer));
    if (now) setImmediate(() => this.fire(job));
  }

  /**
   * Runs every job of `jobs` every `intervalMs` from one timer, so they fire in the same turn of
   * the event loop (jobs that share a read, like the watch ticks of one region and its listing,
   * then really share it); at once as well when `runAtStart`. Each job still skips a firing while
   * its previous run goes on.
   */
  everyTogether(intervalMs: number, jobs: readonly Job[], runAtStart = false): void {
    for (const job of jobs) this.#scheduled.push(job.name);
    const fireAll = () => {
      for (const job of jobs) this.fire(job);
    };
    const timer = setInterval(fireAll, intervalMs);
    timer.unref();
    this.#stops.push(() => clearInterval(timer));
    if (runAtStart) setImmediate(fireAll);
  }

  /** Runs `job` on a cron expression (node-cron syntax, optional seconds field). */
  cron(expression: string, job: Job, timezone?: string): void {
    this.#scheduled.push(job.name);
    const task = cron.schedule(expression, () => this.fire(job), { timezone, noOverlap: false });
    this.#stops.push(() => void task.stop());
  }

  /** The names of the jobs put on a timer so far (what a role started), in order. */
  get scheduledJobs(): readonly string[] {
    return this.#scheduled;
  }

  /** Stops every timer; running passes go on and are drained by the work tracker. */
  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }

  fire(job: Job): void {
    if (this.work.draining) return;
    if (this.#busy.has(job.name)) {
      this.logger.warn({ job: job.name }, 'previous run still going; skipping this one');
      return;
    }
    this.#busy.add(job.name);
    this.work
      .run(job.name, (signal) => job.runOnce(signal))
      .catch((error) => {
        this.logger.error({ job: job.name, err: errorMessage(error) }, 'job run failed');
        this.onJobError(job.name, error);
      })
      .finally(() => this.#busy.delete(job.name));
  }
}
