// 12. Guard idle cost: what the guard on the serving revision costs a daemon watching 50 emulated
// services with no deploy in progress: two daemons in the same run, on the same emulator, one with
// the guard's default rules (the guide's five, every guard.interval) and one with the guard off
// (guard.rules: []); CPU as a share of one core and peak RSS over the window, and their ratio.
import path from 'node:path';
import { emulatedUnavailable, startDaemon, startEmulator, waitFor } from './lib/emulated.mjs';
import { footprint } from './lib/proc.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '12. Guard idle cost';

export const guard = {
  id: 'guard',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'daemon CPU, 50 services, guard on vs off', unit: 'percent' },
    { bench: BENCH, metric: 'daemon peak RSS, 50 services, guard on vs off', unit: 'bytes' },
  ],
  unavailable: () => emulatedUnavailable(['watch']),
  async run(ctx) {
    const count = ctx.quick ? 5 : 50;
    // The default guard.interval (1 m) over a 2-minute window: every service's guard runs twice or
    // three times. Quick mode shortens both so its few seconds still hold guard passes.
    const intervalMs = ctx.quick ? 2_000 : 60_000;
    const windowMs = ctx.quick ? 6_000 : 120_000;
    const names = Array.from({ length: count }, (_, index) => `svc-${String(index + 1).padStart(2, '0')}`);
    const results = { on: { rss: [], cpu: [] }, off: { rss: [], cpu: [] } };
    for (let run = 0; run < ctx.runs; run++) {
      ctx.log(
        `guard run ${run + 1}/${ctx.runs}: ${count} services, guard on and off, ${format(windowMs, 'ms')}`,
      );
      const playground = await startEmulator(names);
      const work = path.join(ctx.work, 'guard');
      const daemons = {};
      try {
        const options = (rules) => ({
          probeMs: 5_000,
          pollMs: 15_000,
          guard: { rules, interval: `${intervalMs}ms` },
        });
        daemons.on = await startDaemon(path.join(work, 'on'), playground, names, options(undefined));
        daemons.off = await startDaemon(path.join(work, 'off'), playground, names, options([]));
        // Each service is known good from earlier history (startDaemon seeds it): first sight is not
        // proof of health, so without it every service would be under a first-sight watch.
        await waitFor(
          () => Object.values(daemons).every((daemon) => daemon.history.polled() >= count),
          60_000,
          'every service of both daemons to be polled once',
          200,
        );
        await delay(ctx.quick ? 1_000 : 5_000);
        const measured = await footprint({ on: daemons.on.pid, off: daemons.off.pid }, windowMs);
        for (const [name, { rss, cpu }] of Object.entries(measured)) {
          results[name].rss.push(rss);
          results[name].cpu.push(cpu);
        }
      } finally {
        for (const daemon of Object.values(daemons)) {
          daemon.history.close();
          await daemon.stop();
        }
        await playground.stop();
      }
    }
    ctx.note(
      BENCH,
      `${count} services on the emulator (in the benchmark process), 5 s probes, 15 s polls, no deploy and no traffic; both daemons run side by side in each run, one with the guard's default rules every ${format(intervalMs, 'ms')} (three Cloud Monitoring reads per service and pass: request counts, CPU, memory; health from the probes already running), one with guard.rules: []; ${format(windowMs, 'ms')} window after every service of both was polled once (each known good from earlier history); CPU from /proc (10 ms ticks). ` +
        `Per run, CPU on: ${results.on.cpu.map((v) => format(v, 'percent')).join(', ')}; off: ${results.off.cpu.map((v) => format(v, 'percent')).join(', ')}; RSS on: ${results.on.rss.map((v) => format(v, 'bytes')).join(', ')}; off: ${results.off.rss.map((v) => format(v, 'bytes')).join(', ')}.`,
    );
    return [
      figure({
        ...this.metrics[0],
        value: median(results.on.cpu),
        baseline: median(results.off.cpu),
        baselineName: 'same daemon, guard off',
        runs: ctx.runs,
      }),
      figure({
        ...this.metrics[1],
        value: median(results.on.rss),
        baseline: median(results.off.rss),
        baselineName: 'same daemon, guard off',
        runs: ctx.runs,
      }),
    ];
  },
};

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
