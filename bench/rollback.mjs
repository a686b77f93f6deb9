// 5. Time to rollback on the emulator: a revision serving 100 % starts failing /health; the daemon
// (0.5 s probes, 3 failures trip; 200 trials, so that the p99 is not simply the worst) sends the traffic back to the stable revision. Split into
// detection (failing -> rule tripped, from the daemon's history) and action (tripped ->
// UpdateService arriving at the emulator); the whole ends when the emulator serves 100 % stable.
import path from 'node:path';
import {
  attribution,
  emulatedUnavailable,
  emulatorSampler,
  observeWithPriority,
  startDaemon,
  startEmulator,
  waitFor,
} from './lib/emulated.mjs';
import { prng } from './lib/random.mjs';
import { percentile } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '5. Time to rollback';
const PROBE_MS = 500;
const FAILURES = 3;
const BOUND = FAILURES * PROBE_MS + 1_000;

export const rollback = {
  id: 'rollback',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'detection p50 (failing to rule tripped)', unit: 'ms' },
    { bench: BENCH, metric: 'detection p99', unit: 'ms' },
    { bench: BENCH, metric: 'action p50 (tripped to UpdateService sent)', unit: 'ms' },
    { bench: BENCH, metric: 'action p99', unit: 'ms', target: { max: 50 } },
    { bench: BENCH, metric: 'whole p50 (failing to 100 % on stable)', unit: 'ms' },
    { bench: BENCH, metric: 'whole p99', unit: 'ms', target: { max: BOUND } },
  ],
  unavailable: () => emulatedUnavailable(['watch']),
  async run(ctx) {
    const trials = ctx.quick ? 2 : 200;
    const playground = await startEmulator(['shop']);
    const stable = playground.revisions('shop')[0].name;
    const daemon = await startDaemon(path.join(ctx.work, 'rollback'), playground, ['shop'], {
      probeMs: PROBE_MS,
      pollMs: 1_000,
      rules: [{ name: 'health', signal: 'health', threshold: FAILURES }],
    }).catch(async (error) => {
      await playground.stop();
      throw error;
    });
    const sampler = emulatorSampler(playground, [daemon.pid, process.pid]);
    let restorePriority = () => {};
    const windows = [];
    const rand = prng('rollback-phase');
    const detection = [];
    const action = [];
    const whole = [];
    try {
      restorePriority = observeWithPriority();
      // The stable revision is known good from earlier history (startDaemon); wait for the first poll.
      await waitFor(() => daemon.history.polled() >= 1, 30_000, 'the first poll', 100);
      let seen = { id: 0 };
      for (let trial = 0; trial < trials; trial++) {
        ctx.log(`rollback trial ${trial + 1}/${trials}`);
        const candidate = await playground.deploy('shop', { behaviour: 'healthy' });
        seen = await latest(daemon, 'watch:started', (row) => row.detail.candidate === candidate, seen.id);
        // A random phase against the probe timer, as a real failure would have.
        await delay(rand.next() * PROBE_MS);
        const calls = sampler.calls.length;
        const onStable = sampler.allOn('shop', stable);
        const failingAt = performance.timeOrigin + performance.now();
        playground.setBehaviour(candidate, 'failing-health');
        const stableAt = await withTimeout(onStable, 30_000, `traffic back on ${stable}`);
        const done = await latest(
          daemon,
          'rollback:completed',
          (row) => row.detail.candidate === candidate,
          seen.id,
        );
        seen = done;
        const trippedAt = done.detail.at - done.detail.durationMs;
        const sentAt = sampler.calls[calls];
        if (sentAt === undefined) throw new Error('the rollback reached no UpdateService call');
        detection.push(trippedAt - failingAt);
        action.push(sentAt - trippedAt);
        windows.push({ ms: sentAt - trippedAt, sched: sampler.sched(trippedAt, sentAt) });
        whole.push(stableAt - failingAt);
      }
    } finally {
      restorePriority();
      sampler.stop();
      daemon.history.close();
      await daemon.stop();
      await playground.stop();
    }
    ctx.note(
      BENCH,
      `${trials} trials; probes every ${format(PROBE_MS, 'ms')}, ${FAILURES} failures trip; the emulator and the sampler (every ${sampler.periodMs} ms) run in the benchmark process, the daemon in its own; UpdateService sent is its arrival as the emulator recorded it. ` +
        `Rule tripped = rollback:completed.at − durationMs from the daemon's history (ms clock); UpdateService sent = its arrival at the emulator. ` +
        `Detection per trial: ${detection.map((v) => format(v, 'ms')).join(', ')}. Action: ${action.map((v) => format(v, 'ms')).join(', ')}.` +
        attribution(windows, 'action'),
    );
    const bound = (value, name) => ({ value, baseline: BOUND - 1_000, baselineName: name, runs: trials });
    return [
      figure({ ...this.metrics[0], ...bound(percentile(detection, 50), `${FAILURES} × probe interval`) }),
      figure({ ...this.metrics[1], ...bound(percentile(detection, 99), `${FAILURES} × probe interval`) }),
      figure({
        ...this.metrics[2],
        value: percentile(action, 50),
        baseline: 50,
        baselineName: 'target',
        runs: trials,
      }),
      figure({
        ...this.metrics[3],
        value: percentile(action, 99),
        baseline: 50,
        baselineName: 'target',
        runs: trials,
      }),
      figure({ ...this.metrics[4], ...bound(percentile(whole, 50), `${FAILURES} × probe interval`) }),
      figure({ ...this.metrics[5], ...bound(percentile(whole, 99), `${FAILURES} × probe interval`) }),
    ];
  },
};

/** The first history row of `kind` after `afterId` matching `match`. */
export function latest(daemon, kind, match, afterId, timeoutMs = 30_000) {
  return waitFor(
    () => daemon.history.rows(afterId).find((row) => row.kind === kind && match(row)),
    timeoutMs,
    `${kind} in the daemon's history`,
  );
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
