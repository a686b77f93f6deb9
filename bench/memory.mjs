// 2. Memory as data grows: runwarden's peak RSS backing up 4 times the data set against its peak on
// the 1x set (taken from the backup benchmark's runs, or measured here when that one was skipped).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe } from './backup.mjs';
import { runwardenBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '2. Memory as data grows';

export const memory = {
  id: 'memory',
  metrics: [{ bench: BENCH, metric: 'peak RSS at 4× data', unit: 'bytes', target: { ratioMax: 1.2 } }],
  async run(ctx) {
    const small = ctx.dataset(ctx.quick ? 'quick' : '1x');
    const large = ctx.dataset(ctx.quick ? 'quick4x' : '4x');
    const peaks = async (dataset, label) => {
      const result = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`memory run ${run + 1}/${ctx.runs}: ${label}`);
        const work = path.join(ctx.work, 'runwarden-memory');
        rmSync(work, { recursive: true, force: true });
        result.push((await runwardenBackup(writeBackupConfig(work, dataset))).maxRssBytes);
        rmSync(work, { recursive: true, force: true });
      }
      return result;
    };
    const base = ctx.shared.backupRss ?? (await peaks(small, '1x'));
    const grown = await peaks(large, '4x');
    ctx.note(
      BENCH,
      `${describe(small)}; ${describe(large)}. Peak RSS runs at 4x: ${grown.map((bytes) => format(bytes, 'bytes')).join(', ')}.`,
    );
    return [
      figure({
        ...this.metrics[0],
        value: median(grown),
        baseline: median(base),
        baselineName: 'runwarden at 1×',
        runs: ctx.runs,
      }),
    ];
  },
};
