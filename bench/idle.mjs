// 7. Idle footprint: the daemon watching 50 emulated services (5 s probes, default polling) for
// 60 s with no deploy in progress: its peak RSS in the window and its CPU as a share of one core.
// The baseline is the same daemon with no services, measured alongside; its own RSS is a row too.
// Cloud Run Admin API reads in the window are counted at the emulator, against the read quota.
import path from 'node:path';
import { emulatedUnavailable, startDaemon, startEmulator, waitFor } from './lib/emulated.mjs';
import { apiCounter, readQuotaPerMinute } from './lib/api-budget.mjs';
import { footprint } from './lib/proc.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '7. Idle footprint';
const MB = 1024 * 1024;

export const idle = {
  id: 'idle',
  tools: [],
  metrics: [
    {
      bench: BENCH,
      metric: 'daemon peak RSS, 50 services, 5 s probes, 60 s',
      unit: 'bytes',
      target: { max: 110 * MB },
    },
    { bench: BENCH, metric: 'daemon CPU, % of one core', unit: 'percent', target: { max: 3 } },
    {
      bench: BENCH,
      metric: 'daemon with no services, peak RSS after start',
      unit: 'bytes',
      target: { max: 90 * MB },
    },
    {
      bench: BENCH,
      metric: 'Cloud Run Admin API reads a minute, 50 services',
      unit: 'count',
      target: { ratioMax: 0.1 },
    },
  ],
  unavailable: () => emulatedUnavailable(['watch']),
  async run(ctx) {
    const count = ctx.quick ? 5 : 50;
    const windowMs = ctx.quick ? 5_000 : 60_000;
    const names = Array.from({ length: count }, (_, index) => `svc-${String(index + 1).padStart(2, '0')}`);
    const results = { watching: { rss: [], cpu: [] }, empty: { rss: [], cpu: [] } };
    const budget = { reads: [], monitoring: [], byMethod: [] };
    const quota = await readQuotaPerMinute();
    for (let run = 0; run < ctx.runs; run++) {
      ctx.log(`idle run ${run + 1}/${ctx.runs}: ${count} services for ${format(windowMs, 'ms')}`);
      const playground = await startEmulator(names);
      // A fresh state per run: a store left by the run before would hold other revisions as stable.
      const work = path.join(ctx.work, `idle-${run}`);
      const daemons = {};
      try {
        daemons.watching = await startDaemon(path.join(work, 'watching'), playground, names, {
          probeMs: 5_000,
          pollMs: 15_000,
        });
        daemons.empty = await startDaemon(path.join(work, 'empty'), playground, [], {});
        // Settled: every service has been read once and has its stable revision.
        await waitFor(
          () => daemons.watching.history.polled() >= count,
          60_000,
          'every service to be polled once',
          200,
        );
        await delay(ctx.quick ? 1_000 : 5_000);
        const calls = apiCounter(playground);
        const measured = await footprint(
          { watching: daemons.watching.pid, empty: daemons.empty.pid },
          windowMs,
        );
        const spent = calls();
        budget.reads.push(spent.reads);
        budget.monitoring.push(spent.monitoring);
        budget.byMethod.push(spent.byMethod);
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
      `${count} services on the emulator (in the benchmark process), 5 s probes, 15 s polls, no deploy in progress, ${format(windowMs, 'ms')} window after every service was polled once (each known good from earlier history); ` +
        `CPU from /proc (10 ms ticks). Per run, RSS: ${results.watching.rss.map((v) => format(v, 'bytes')).join(', ')}; CPU: ${results.watching.cpu.map((v) => format(v, 'percent')).join(', ')}; ` +
        `no services, RSS: ${results.empty.rss.map((v) => format(v, 'bytes')).join(', ')}. ` +
        `API calls at the emulator a minute, per run: Cloud Run reads ${budget.reads.map((v) => v.toFixed(1)).join(', ')}; Cloud Monitoring ListTimeSeries ${budget.monitoring.map((v) => v.toFixed(1)).join(', ')} (no watch open: these are the guard's reads of every serving revision, batched); calls by method in the last run: ${JSON.stringify(budget.byMethod.at(-1))}. Quota: ${quota} reads a minute per project and region (the figure kept in src/cloudrun/cloud-run-api.ts, to verify).`,
    );
    return [
      figure({
        ...this.metrics[0],
        value: median(results.watching.rss),
        baseline: median(results.empty.rss),
        baselineName: 'daemon with no services',
        runs: ctx.runs,
      }),
      figure({
        ...this.metrics[1],
        value: median(results.watching.cpu),
        baseline: median(results.empty.cpu),
        baselineName: 'daemon with no services',
        runs: ctx.runs,
      }),
      figure({
        ...this.metrics[2],
        value: median(results.empty.rss),
        baseline: 90 * MB,
        baselineName: 'target',
        runs: ctx.runs,
      }),
      figure({
        ...this.metrics[3],
        value: median(budget.reads),
        baseline: quota,
        baselineName: 'read quota a minute per region',
        runs: ctx.runs,
      }),
    ];
  },
};

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
