// 13. 500 services: the daemon watching 500 emulated services (5 s probes, 15 s polls) for 60 s with
// no deploy in progress: its peak RSS and CPU, the Cloud Run Admin API reads it spends a minute
// (counted at the emulator) against the per-region read quota, and the size and scrape time of
// /metrics. The baseline for memory and CPU is the same daemon with no services, measured alongside.
import http from 'node:http';
import path from 'node:path';
import { apiCounter, readQuotaPerMinute } from './lib/api-budget.mjs';
import { emulatedUnavailable, startDaemon, startEmulator, waitFor } from './lib/emulated.mjs';
import { footprint } from './lib/proc.mjs';
import { median, percentile } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '13. 500 services';
const MB = 1024 * 1024;
const SCRAPES = 20;

export const scale = {
  id: 'scale',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'daemon peak RSS, 5 s probes, 60 s', unit: 'bytes', target: { max: 200 * MB } },
    { bench: BENCH, metric: 'daemon CPU, % of one core', unit: 'percent', target: { max: 10 } },
    { bench: BENCH, metric: 'Cloud Run Admin API reads a minute', unit: 'count', target: { ratioMax: 0.1 } },
    { bench: BENCH, metric: '/metrics body, gzip (as Prometheus asks)', unit: 'bytes' },
    { bench: BENCH, metric: '/metrics scrape time p50, gzip', unit: 'ms' },
  ],
  unavailable: () => emulatedUnavailable(['watch']),
  async run(ctx) {
    const count = ctx.quick ? 20 : 500;
    const windowMs = ctx.quick ? 5_000 : 60_000;
    // 500 emulated services are 1,000 listeners in the benchmark process; three runs, not five.
    const runs = Math.min(ctx.runs, 3);
    const names = Array.from({ length: count }, (_, index) => `svc-${String(index + 1).padStart(3, '0')}`);
    const quota = await readQuotaPerMinute();
    const out = { rss: [], cpu: [], emptyRss: [], emptyCpu: [], reads: [], monitoring: [] };
    const body = { gzip: [], plain: [] };
    const scrape = { gzip: [], plain: [] };
    let byMethod = {};
    for (let run = 0; run < runs; run++) {
      ctx.log(`scale run ${run + 1}/${runs}: ${count} services for ${format(windowMs, 'ms')}`);
      const playground = await startEmulator(names);
      // A fresh state per run: a store left by the run before would hold other revisions as stable.
      const work = path.join(ctx.work, `scale-${run}`);
      const daemons = {};
      try {
        daemons.watching = await startDaemon(path.join(work, 'watching'), playground, names, {
          probeMs: 5_000,
          pollMs: 15_000,
        });
        daemons.empty = await startDaemon(path.join(work, 'empty'), playground, [], {});
        // Each service is known good from earlier history (startDaemon seeds it): first sight is not
        // proof of health, so without it every service would be under a first-sight watch.
        await waitFor(
          () => daemons.watching.history.polled() >= count,
          120_000,
          'every service to be polled once',
          500,
        );
        await delay(ctx.quick ? 1_000 : 5_000);
        const calls = apiCounter(playground);
        const measured = await footprint(
          { watching: daemons.watching.pid, empty: daemons.empty.pid },
          windowMs,
        );
        const spent = calls();
        out.reads.push(spent.reads);
        out.monitoring.push(spent.monitoring);
        byMethod = spent.byMethod;
        out.rss.push(measured.watching.rss);
        out.emptyRss.push(measured.empty.rss);
        out.cpu.push(measured.watching.cpu);
        out.emptyCpu.push(measured.empty.cpu);
        // Scraped after the window, so the scrapes' own cost is not in its CPU figure.
        for (const encoding of ['gzip', 'plain']) {
          const times = [];
          for (let scrapeRun = 0; scrapeRun < SCRAPES; scrapeRun++) {
            const began = performance.now();
            const bytes = await scrapeBytes(`${daemons.watching.base}/metrics`, encoding);
            times.push(performance.now() - began);
            if (scrapeRun === 0) body[encoding].push(bytes);
          }
          scrape[encoding].push(median(times));
        }
      } finally {
        for (const daemon of Object.values(daemons)) {
          daemon.history.close();
          await daemon.stop();
        }
        await playground.stop();
      }
    }
    const list = (values, unit) => values.map((value) => format(value, unit)).join(', ');
    ctx.note(
      BENCH,
      `${count} services on the emulator (in the benchmark process), 5 s probes, 15 s polls, no deploy in progress, ${format(windowMs, 'ms')} window after every service was polled once (each known good from earlier history); ${runs} runs. ` +
        `Per run, RSS: ${list(out.rss, 'bytes')}; CPU: ${list(out.cpu, 'percent')}; no-services daemon RSS: ${list(out.emptyRss, 'bytes')}. ` +
        `Cloud Run reads a minute: ${out.reads.map((v) => v.toFixed(1)).join(', ')} (last run by method: ${JSON.stringify(byMethod)}); Cloud Monitoring calls a minute: ${out.monitoring.map((v) => v.toFixed(1)).join(', ')}; ` +
        `quota ${quota} reads a minute per project and region (src/cloudrun/cloud-run-api.ts, a figure to verify). ` +
        `/metrics: ${list(body.gzip, 'bytes')} gzip, ${list(body.plain, 'bytes')} plain; scrape p50 over ${SCRAPES} scrapes, gzip ${list(scrape.gzip, 'ms')}, plain ${list(scrape.plain, 'ms')}, p99 of the gzip medians ${format(percentile(scrape.gzip, 99), 'ms')}.`,
    );
    return [
      figure({
        ...this.metrics[0],
        value: median(out.rss),
        baseline: median(out.emptyRss),
        baselineName: 'daemon with no services',
        runs,
      }),
      figure({
        ...this.metrics[1],
        value: median(out.cpu),
        baseline: median(out.emptyCpu),
        baselineName: 'daemon with no services',
        runs,
      }),
      figure({
        ...this.metrics[2],
        value: median(out.reads),
        baseline: quota,
        baselineName: 'read quota a minute per region',
        runs,
      }),
      figure({
        ...this.metrics[3],
        value: median(body.gzip),
        baseline: median(body.plain),
        baselineName: 'plain text',
        runs,
      }),
      figure({
        ...this.metrics[4],
        value: median(scrape.gzip),
        baseline: median(scrape.plain),
        baselineName: 'plain text',
        runs,
      }),
    ];
  },
};

/** GETs `url` asking for `encoding` and resolves with the bytes on the wire (never inflated). */
function scrapeBytes(url, encoding) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      { headers: { 'accept-encoding': encoding === 'gzip' ? 'gzip' : 'identity' } },
      (response) => {
        if (encoding === 'gzip' && response.headers['content-encoding'] !== 'gzip')
          reject(new Error('/metrics did not answer gzip when asked'));
        let length = 0;
        response.on('data', (chunk) => {
          length += chunk.length;
        });
        response.on('end', () => resolve(length));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
