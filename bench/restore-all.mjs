// 4. Restore of everything (`restore --all`): the main database, every tenant and the media folder
// put back over a site that holds them, against `unzip` of the same entries into a scratch folder
// plus `cp` of each file over its target. runwarden also verifies what it restores, keeps a safety
// copy of every database it replaces and the old media folder, fsyncs, and swaps under a journal.
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { combine, measure } from './lib/measure.mjs';
import { catalogArchive, cliArgs, takeBackup, writeBackupConfig } from './lib/runwarden.mjs';
import { median } from './lib/stats.mjs';
import { figure, format } from './lib/table.mjs';

const BENCH = '4. Restore';

export const restoreAll = {
  id: 'restore-all',
  metrics: [
    {
      bench: BENCH,
      metric: 'everything (--all: main, tenants, media)',
      unit: 'ms',
      target: { ratioMax: 1.5 },
    },
  ],
  async run(ctx) {
    const work = path.join(ctx.work, 'restore-all');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const { file, dataset } = ctx.shared.archive ?? (await takeBackup(ctx, work));
    // The site restored over: a copy of the data set (untimed), so every target exists, as in a
    // real restore; both contenders leave it holding the archive's files for the next run.
    const site = siteOf(path.join(work, 'site'));
    mkdirSync(site.dir, { recursive: true });
    copyFileSync(dataset.mainDb, site.mainDb);
    cpSync(dataset.tenantsDir, site.tenantsDir, { recursive: true });
    cpSync(dataset.mediaDir, site.mediaDir, { recursive: true });
    const config = writeBackupConfig(path.join(work, 'config'), site);
    const archive = catalogArchive(config, file, path.join(work, 'config', 'backups'));

    const ours = [];
    const theirs = [];
    const restoreOurs = async () => {
      const measured = await measure(process.execPath, [
        ...cliArgs(),
        'restore',
        archive,
        '--all',
        '--force',
        '--no-backup',
        '--json',
        '--config',
        config,
      ]);
      ours.push(measured.wallMs);
      // Untimed: the safety copies and the old media folder it kept, as a person would once satisfied.
      for (const target of JSON.parse(measured.stdout).targets)
        if (target.safetyCopy) rmSync(target.safetyCopy, { recursive: true, force: true });
    };
    const restoreTheirs = async () => {
      theirs.push((await unzipCopyAll(archive, site, work)).wallMs);
    };
    for (let run = 0; run < ctx.runs; run++) {
      ctx.log(`restore --all run ${run + 1}/${ctx.runs}`);
      if (run % 2 === 0) {
        await restoreOurs();
        await restoreTheirs();
      } else {
        await restoreTheirs();
        await restoreOurs();
      }
    }
    rmSync(work, { recursive: true, force: true });
    const list = (values) => values.map((value) => format(value, 'ms')).join(', ');
    ctx.note(
      BENCH,
      `everything: \`runwarden restore <archive> --all --force --no-backup --json\` over a site holding the data set (each target exists, so each database gets a safety copy and the media folder is moved aside), against \`unzip -q -o <archive> 'db/*' 'tenants/*' 'media/*' -d <scratch>\` then \`cp\` of the main database and \`cp -R\` of the tenants and media folders over the targets (no verification, no fsync, no safety copy). Per run, runwarden ${list(ours)}; unzip + cp ${list(theirs)}.`,
    );
    return [
      figure({
        ...this.metrics[0],
        value: median(ours),
        baseline: median(theirs),
        baselineName: 'unzip + cp',
        runs: ctx.runs,
      }),
    ];
  },
};

function siteOf(dir) {
  return {
    dir,
    mainDb: path.join(dir, 'db.sqlite3'),
    tenantPattern: path.join(dir, 'tenants', '{tenant}.sqlite3'),
    tenantsDir: path.join(dir, 'tenants'),
    mediaDir: path.join(dir, 'media'),
  };
}

/** The baseline: every entry unzipped into a scratch folder, then copied over its target. */
async function unzipCopyAll(archive, site, work) {
  const scratch = path.join(work, 'unzip-scratch');
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const unzip = await measure('unzip', ['-q', '-o', archive, 'db/*', 'tenants/*', 'media/*', '-d', scratch]);
  const [db] = readdirSync(path.join(scratch, 'db'));
  const copies = [
    await measure('cp', [path.join(scratch, 'db', db), site.mainDb]),
    await measure('cp', ['-R', `${path.join(scratch, 'tenants')}/.`, site.tenantsDir]),
    await measure('cp', ['-R', `${path.join(scratch, 'media')}/.`, site.mediaDir]),
  ];
  rmSync(scratch, { recursive: true, force: true });
  return combine([unzip, ...copies]);
}

/** Copies `archive` into the config's backup folder and catalogs it there (untimed); returns the copy. */
