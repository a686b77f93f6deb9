// 1. Backup: runwarden against sqlite3 VACUUM INTO + zip -r -6 -n + unzip -tq, and against restic,
// on the same data set in the same run; runs interleaved so noise hits every contender alike.
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { resticBaseline, zipBaseline } from './lib/baselines.mjs';
import { runwardenBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const MB = 1024 * 1024;
const BENCH = '1. Backup';

export const backup = {
  id: 'backup',
  metrics: [
    { bench: BENCH, metric: 'wall time vs zip', unit: 'ms', target: { ratioMax: 0.8 } },
    { bench: BENCH, metric: 'wall time vs restic, both verifying', unit: 'ms', target: { ratioMax: 1.0 } },
    { bench: BENCH, metric: 'archive size vs zip', unit: 'bytes', target: { ratioMax: 1.02 } },
    { bench: BENCH, metric: 'archive size vs restic repo', unit: 'bytes' },
    { bench: BENCH, metric: 'peak memory (RSS)', unit: 'bytes', target: { max: 150 * MB } },
    { bench: BENCH, metric: 'CPU time vs zip', unit: 'ms' },
  ],
  async run(ctx) {
    const dataset = ctx.dataset(ctx.quick ? 'quick' : '1x');
    const runs = { zip: [], restic: [], runwarden: [] };
    const contenders = {
      zip: async () => {
        const result = await zipBaseline(dataset, ctx.work);
        rmSync(result.archive, { force: true });
        return result;
      },
      restic: () => resticBaseline(dataset, ctx.work),
      runwarden: async () => {
        const work = path.join(ctx.work, 'runwarden-backup');
        rmSync(work, { recursive: true, force: true });
        const measured = await runwardenBackup(writeBackupConfig(work, dataset));
        // The last archive is kept for the restore benchmark.
        const kept = path.join(ctx.work, 'runwarden-archive.zip');
        copyFileSync(measured.result.file, kept);
        ctx.shared.archive = { file: kept, dataset };
        rmSync(work, { recursive: true, force: true });
        return { ...measured, size: measured.result.size };
      },
    };
    const order = Object.keys(contenders);
    for (let run = 0; run < ctx.runs; run++) {
      for (let turn = 0; turn < order.length; turn++) {
        const name = order[(run + turn) % order.length];
        ctx.log(`backup run ${run + 1}/${ctx.runs}: ${name}`);
        runs[name].push(await contenders[name]());
      }
    }
    const med = (name, key) => median(runs[name].map((result) => result[key]));
    ctx.shared.backupWallMs = med('runwarden', 'wallMs');
    ctx.shared.backupRss = runs.runwarden.map((result) => result.maxRssBytes);
    ctx.note(
      BENCH,
      `data set ${describe(dataset)}. Medians, zip baseline: snapshots ${format(med2(runs.zip, 'snapshotMs'), 'ms')}, ` +
        `zip ${format(med2(runs.zip, 'zipMs'), 'ms')}, unzip -tq ${format(med2(runs.zip, 'testMs'), 'ms')}; ` +
        `restic baseline: snapshots ${format(med2(runs.restic, 'snapshotMs'), 'ms')}, restic backup ${format(med2(runs.restic, 'resticMs'), 'ms')}, restic check --read-data ${format(med2(runs.restic, 'checkMs'), 'ms')} ` +
        `(peak ${format(med('restic', 'maxRssBytes'), 'bytes')}); zip baseline peak ${format(med('zip', 'maxRssBytes'), 'bytes')} (largest step). ` +
        `runwarden's wall time includes its own verification and fsyncs; runwarden's CPU ${format(med('runwarden', 'cpuMs'), 'ms')} vs zip's ${format(med('zip', 'cpuMs'), 'ms')}.`,
    );
    const n = ctx.runs;
    return [
      figure({
        ...this.metrics[0],
        value: med('runwarden', 'wallMs'),
        baseline: med('zip', 'wallMs'),
        baselineName: 'VACUUM INTO + zip + unzip -t',
        runs: n,
      }),
      figure({
        ...this.metrics[1],
        value: med('runwarden', 'wallMs'),
        baseline: med('restic', 'wallMs'),
        baselineName: 'VACUUM INTO + restic backup + check --read-data',
        runs: n,
      }),
      figure({
        ...this.metrics[2],
        value: med('runwarden', 'size'),
        baseline: med('zip', 'size'),
        baselineName: 'zip -6',
        runs: n,
      }),
      figure({
        ...this.metrics[3],
        value: med('runwarden', 'size'),
        baseline: med('restic', 'size'),
        baselineName: 'restic repo',
        runs: n,
      }),
      figure({
        ...this.metrics[4],
        value: med('runwarden', 'maxRssBytes'),
        baseline: med('zip', 'maxRssBytes'),
        baselineName: 'zip pipeline, largest step',
        runs: n,
      }),
      figure({
        ...this.metrics[5],
        value: med('runwarden', 'cpuMs'),
        baseline: med('zip', 'cpuMs'),
        baselineName: 'zip pipeline',
        runs: n,
      }),
    ];
  },
};

function med2(results, part) {
  return median(results.map((result) => result.parts[part]));
}

export function describe(dataset) {
  const { stats } = dataset;
  return (
    `${stats.profile}: main DB ${format(stats.mainBytes, 'bytes')}, ${stats.tenants.length} tenants ${format(stats.tenantBytes, 'bytes')}, ` +
    `media ${stats.mediaFiles} files ${format(stats.imageBytes + stats.textBytes, 'bytes')} (${format(stats.textBytes, 'bytes')} text)`
  );
}
