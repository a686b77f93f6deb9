import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/daemon/scheduler.js';
import { WorkTracker } from '../src/daemon/work.js';
import { createLogger } from '../src/telemetry/logger.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';

describe('Scheduler.every with an offset (jobs spread over their interval)', () => {
  it('runs the job first after its offset, then every interval; stop() ends it', async () => {
    const scheduler = new Scheduler(new WorkTracker(), createLogger({ level: 'silent', format: 'json' }));
    const runs: number[] = [];
    const started = performance.now();
    scheduler.every(
      100,
      {
        name: 'offset-job',
        runOnce: async () => {
          runs.push(performance.now() - started);
        },
      },
      { afterMs: 30 },
    );
    await waitFor(() => (runs.length >= 3 ? true : undefined), 'three runs of the job', WORK_BACKSTOP);
    scheduler.stop();
    const count = runs.length;
    // The offset comes first, then whole intervals (timers never fire early).
    expect(runs[0]).toBeGreaterThanOrEqual(29);
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(99);
    // Stopped: no run after it, even past two more intervals (a sentinel timer says when).
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 250);
    await waitFor(() => (fired ? true : undefined), 'the sentinel timer', WORK_BACKSTOP);
    expect(runs.length).toBe(count);
  });

  it('stopped before its offset, the job never runs', async () => {
    const scheduler = new Scheduler(new WorkTracker(), createLogger({ level: 'silent', format: 'json' }));
    let ran = false;
    let fired = false;
    scheduler.every(
      50,
      {
        name: 'never',
        runOnce: async () => {
          ran = true;
        },
      },
      { afterMs: 20 },
    );
    scheduler.stop();
    // A sentinel timer due after the job's offset and first interval: once it fired, so had they.
    setTimeout(() => {
      fired = true;
    }, 120);
    await waitFor(() => (fired ? true : undefined), 'the sentinel timer', WORK_BACKSTOP);
    expect(ran).toBe(false);
  });

  it('everyTogether fires its jobs in the same turn of the event loop, so they can share one read', async () => {
    const scheduler = new Scheduler(new WorkTracker(), createLogger({ level: 'silent', format: 'json' }));
    const turns: number[] = [];
    let turn = 0;
    const ticker = setInterval(() => {
      turn += 1;
    }, 1);
    const job = (name: string) => ({
      name,
      runOnce: async () => {
        turns.push(turn);
      },
    });
    scheduler.everyTogether(40, [job('a'), job('b'), job('c')], true);
    await waitFor(() => (turns.length >= 6 ? true : undefined), 'two firings of three jobs', WORK_BACKSTOP);
    scheduler.stop();
    clearInterval(ticker);
    expect(new Set(turns.slice(0, 3)).size).toBe(1);
    expect(new Set(turns.slice(3, 6)).size).toBe(1);
  });
});
