// 2. Memory as data grows: runwarden's peak RSS backing up 4 times the data set against its peak on
// the 1x set, the two alternating run by run so both see the same machine.
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
    const base = [];
    const grown = [];
    const peak = async (dataset) => {
      const work = path.join(ctx.work, 'runwarden-memory');
      rmSync(work, { recursive: true, force: true });
      const { maxRssBytes } = await runwardenBackup(writeBackupConfig(work, dataset));
      rmSync(work, { recursive: true, force: true });
      return maxRssBytes;
    };
    for (let run = 0; run < ctx.runs; run++) {
      ctx.log(`memory run ${run + 1}/${ctx.runs}: 1x and 4x`);
      for (const size of run % 2 === 0 ? ['1x', '4x'] : ['4x', '1x']) {
        if (size === '1x') base.push(await peak(small));
        else grown.push(await peak(large));
      }
    }
    ctx.note(
      BENCH,
      `${describe(small)}; ${describe(large)}. Peak RSS per run at 1x: ${base.map((bytes) => format(bytes, 'bytes')).join(', ')}; at 4x: ${grown.map((bytes) => format(bytes, 'bytes')).join(', ')}.`,
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
