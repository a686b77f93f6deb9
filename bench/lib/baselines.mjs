// What a user would otherwise run: sqlite3 VACUUM INTO per database, then zip + unzip -t, or restic;
// and unzip + cp to restore. Each step is a measured child process on the same data.
import { readdirSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { combine, measure } from './measure.mjs';

/** zip -n: suffixes stored without compression (already compressed media), as a person would run zip. */
export const ZIP_STORE_SUFFIXES = '.jpg:.jpeg:.png:.gif:.webp:.pdf:.zip:.gz';

/** Databases of a data set as [source file, archive-relative path]. */
export function databasesOf(dataset) {
  const tenants = readdirSync(dataset.tenantsDir)
    .filter((name) => name.endsWith('.sqlite3'))
    .sort();
  return [
    [dataset.mainDb, path.join('db', path.basename(dataset.mainDb))],
    ...tenants.map((name) => [path.join(dataset.tenantsDir, name), path.join('tenants', name)]),
  ];
}

/** A consistent copy of every database, one `sqlite3 <db> "VACUUM INTO ..."` each, into `stage`. */
export async function snapshotWithSqlite(dataset, stage) {
  const steps = [];
  for (const [source, relative] of databasesOf(dataset)) {
    const target = path.join(stage, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    steps.push(await measure('sqlite3', [source, `VACUUM INTO '${target.replaceAll("'", "''")}'`]));
  }
  return combine(steps);
}

/** The zip baseline: snapshots, `zip -r -6 -n ...`, `unzip -tq`. Leaves `<work>/baseline.zip`. */
export async function zipBaseline(dataset, work) {
  const stage = path.join(work, 'zip-stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const snapshot = await snapshotWithSqlite(dataset, stage);
  // zip follows symbolic links by default, so the media folder is read in place, not copied.
  symlinkSync(dataset.mediaDir, path.join(stage, 'media'));
  const archive = path.join(work, 'baseline.zip');
  rmSync(archive, { force: true });
  const zip = await measure(
    'zip',
    ['-r', '-q', '-6', '-n', ZIP_STORE_SUFFIXES, archive, 'db', 'tenants', 'media'],
    {
      cwd: stage,
    },
  );
  const test = await measure('unzip', ['-tq', archive]);
  const total = combine([snapshot, zip, test]);
  const size = statSync(archive).size;
  rmSync(stage, { recursive: true, force: true });
  return {
    ...total,
    size,
    archive,
    parts: { snapshotMs: snapshot.wallMs, zipMs: zip.wallMs, testMs: test.wallMs },
  };
}

/**
 * The restic baseline: snapshots, then `restic backup` into a fresh local repository (created
 * untimed, as it would be once in real use), then `restic check --read-data`, so that restic
 * verifies what it wrote as runwarden does. Size is the repository's bytes on disk.
 */
export async function resticBaseline(dataset, work) {
  const stage = path.join(work, 'restic-stage');
  const repo = path.join(work, 'restic-repo');
  rmSync(stage, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const env = {
    ...process.env,
    RESTIC_PASSWORD: 'benchmark-only',
    RESTIC_REPOSITORY: repo,
    RESTIC_CACHE_DIR: path.join(work, 'restic-cache'),
    RESTIC_PROGRESS_FPS: '0.0001',
  };
  await measure('restic', ['init', '--quiet'], { env });
  const snapshot = await snapshotWithSqlite(dataset, stage);
  // restic stores symbolic links as links, so the media folder is named directly.
  const backup = await measure(
    'restic',
    ['backup', '--quiet', path.join(stage, 'db'), path.join(stage, 'tenants'), dataset.mediaDir],
    { env },
  );
  const check = await measure('restic', ['check', '--read-data', '--quiet'], { env });
  const total = combine([snapshot, backup, check]);
  const size = directorySize(repo);
  rmSync(stage, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
  rmSync(env.RESTIC_CACHE_DIR, { recursive: true, force: true });
  return {
    ...total,
    size,
    parts: { snapshotMs: snapshot.wallMs, resticMs: backup.wallMs, checkMs: check.wallMs },
  };
}

/** The restore baseline: `unzip` one entry into a scratch folder, then `cp` it into place. */
export async function unzipCopyRestore(archive, entry, target, work) {
  const scratch = path.join(work, 'unzip-scratch');
  rmSync(scratch, { recursive: true, force: true });
  rmSync(target, { force: true });
  mkdirSync(scratch, { recursive: true });
  const unzip = await measure('unzip', ['-q', '-o', archive, entry, '-d', scratch]);
  const copy = await measure('cp', [path.join(scratch, entry), target]);
  rmSync(scratch, { recursive: true, force: true });
  return combine([unzip, copy]);
}

export function directorySize(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}
