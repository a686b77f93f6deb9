// 4. Restore of one tenant and of the main database from runwarden's archive, against unzip of the
// same entry plus a cp into place (runwarden also verifies what it restores and fsyncs). The
// archive is in the catalog, as every backup runwarden takes is; one more row restores the tenant
// from a copy the catalog lacks, which runwarden verifies whole first.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { unzipCopyRestore } from './lib/baselines.mjs';
import { catalogArchive, runwardenRestore, takeBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '4. Restore';

export const restore = {
  id: 'restore',
  metrics: [
    { bench: BENCH, metric: 'one tenant (the largest)', unit: 'ms', target: { ratioMax: 1.5 } },
    { bench: BENCH, metric: 'main database', unit: 'ms', target: { ratioMax: 1.5 } },
    { bench: BENCH, metric: 'one tenant, archive not in the catalog', unit: 'ms' },
  ],
  async run(ctx) {
    const work = path.join(ctx.work, 'restore');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const { file: uncataloged, dataset } = ctx.shared.archive ?? (await takeBackup(ctx, work));
    const config = writeBackupConfig(path.join(work, 'config'), dataset);
    const archive = catalogArchive(config, uncataloged, path.join(work, 'config', 'backups'));
    const tenant = largestTenant(dataset);
    const cases = [
      { selection: ['--tenant', tenant], entry: `tenants/${tenant}.sqlite3`, archive },
      { selection: ['--db', 'main'], entry: `db/${path.basename(dataset.mainDb)}`, archive },
      { selection: ['--tenant', tenant], entry: `tenants/${tenant}.sqlite3`, archive: uncataloged },
    ];
    const rows = [];
    const details = [];
    const list = (values) => values.map((value) => format(value, 'ms')).join(', ');
    for (const [index, { selection, entry, archive }] of cases.entries()) {
      const ours = [];
      const theirs = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`restore run ${run + 1}/${ctx.runs}: ${entry}`);
        const target = path.join(work, 'target', path.basename(entry));
        const restoreOurs = async () => {
          rmSync(path.dirname(target), { recursive: true, force: true });
          mkdirSync(path.dirname(target), { recursive: true });
          ours.push((await runwardenRestore(config, archive, selection, target)).wallMs);
        };
        const restoreTheirs = async () => {
          rmSync(path.dirname(target), { recursive: true, force: true });
          mkdirSync(path.dirname(target), { recursive: true });
          theirs.push((await unzipCopyRestore(archive, entry, target, work)).wallMs);
        };
        if (run % 2 === 0) {
          await restoreOurs();
          await restoreTheirs();
        } else {
          await restoreTheirs();
          await restoreOurs();
        }
      }
      rows.push(
        figure({
          ...this.metrics[index],
          value: median(ours),
          baseline: median(theirs),
          baselineName: 'unzip + cp',
          runs: ctx.runs,
        }),
      );
      const which = archive === uncataloged ? ' (not in the catalog)' : '';
      details.push(`${entry}${which}: runwarden ${list(ours)}; unzip + cp ${list(theirs)}`);
    }
    rmSync(work, { recursive: true, force: true });
    ctx.note(
      BENCH,
      `from runwarden's own archive of the backup benchmark, cataloged in the restore's state (\`backups import\`, untimed) as runwarden's own backups are: \`runwarden restore <archive> --tenant|--db main --target <new file> --no-backup --json\` (a new target: no safety copy) checks the manifest against the catalog and the restored entry against the manifest; the last row restores from a copy outside the catalog, which is verified whole first. Per run, ${details.join('; ')}.`,
    );
    return rows;
  },
};

/** Copies `archive` into the config's backup folder and catalogs it there (untimed); returns the copy. */

function largestTenant(dataset) {
  const files = readdirSync(dataset.tenantsDir).filter((name) => name.endsWith('.sqlite3'));
  files.sort(
    (a, b) =>
      statSync(path.join(dataset.tenantsDir, b)).size - statSync(path.join(dataset.tenantsDir, a)).size,
  );
  return files[0].replace(/\.sqlite3$/, '');
}
