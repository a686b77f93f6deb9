// runwarden as the user runs it: the built CLI as a child process (so its peak RSS and CPU are its
// own), with a generated config pointing at a data set.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { measure } from './measure.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The built code the benchmarks run: ROOT/dist until `freezeDist` copies it aside, so a teammate's
 * rebuild of dist/ in the middle of a run cannot change the code measured.
 */
export let DIST = path.join(ROOT, 'dist');
export let CLI = path.join(DIST, 'cli', 'main.js');

/** Copies dist/ (and package.json, which it reads its version from) into `dir`; later runs use the copy. */
export function freezeDist(dir) {
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  // Packages resolve by walking up from the copy to ROOT/node_modules, so dir must sit inside ROOT.
  DIST = path.join(dir, 'dist');
  CLI = path.join(DIST, 'cli', 'main.js');
}

/**
 * Writes `<work>/runwarden.yaml` backing up `sources` (default: the data set) into `<work>/backups`;
 * `extra` is added at the top level, `backupExtra` to the `backup` section.
 */
export function writeBackupConfig(
  work,
  dataset,
  { mainDb = dataset.mainDb, extra = {}, backupExtra = {} } = {},
) {
  mkdirSync(work, { recursive: true });
  const file = path.join(work, 'runwarden.yaml');
  const config = {
    state_dir: path.join(work, 'state'),
    log: { level: 'warn', format: 'json' },
    backup: {
      dir: path.join(work, 'backups'),
      sources: {
        data_dir: dataset.dir,
        main_db: { path: mainDb },
        tenants: { pattern: dataset.tenantPattern },
        media: { dir: dataset.mediaDir },
      },
      ...backupExtra,
    },
    ...extra,
  };
  writeFileSync(file, stringify(config));
  return file;
}

/** `runwarden backup --config <file> --json`, measured; resolves the measurement plus the parsed JSON. */
export async function runwardenBackup(configFile, options = {}) {
  const measured = await measure(
    process.execPath,
    [...cliArgs(), 'backup', '--config', configFile, '--json'],
    options,
  );
  return { ...measured, result: JSON.parse(measured.stdout) };
}

/** `runwarden restore <archive> <selection...> --target <file> --no-backup --json`, measured. */
export async function runwardenRestore(configFile, archive, selection, target) {
  const measured = await measure(process.execPath, [
    ...cliArgs(),
    'restore',
    archive,
    ...selection,
    '--target',
    target,
    '--no-backup',
    '--json',
    '--config',
    configFile,
  ]);
  return { ...measured, result: JSON.parse(measured.stdout) };
}

/**
 * `[...node flags, CLI]`: the flags the CLI's shebang gives node (`#!/usr/bin/env -S node --flag`),
 * which the installed bin, the systemd unit and the Docker image all run it with.
 */
export function cliArgs() {
  return [...shebang().flags, CLI];
}

/**
 * The environment the CLI's shebang sets (`#!/usr/bin/env -S NAME=VALUE node ...`), added to
 * `base` (process.env by default): spawn the CLI with it, as the installed bin runs.
 */
export function cliEnv(base = process.env) {
  return { ...base, ...shebang().env };
}

function shebang() {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0];
  const match = /^#!\S*env\s+-S\s+((?:\w+=\S*\s+)*)node((?:\s+-\S+)*)\s*$/.exec(first);
  if (!match) return { env: {}, flags: [] };
  const env = Object.fromEntries(
    match[1]
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  return { env, flags: match[2].trim() ? match[2].trim().split(/\s+/) : [] };
}

export function cliBuilt() {
  return existsSync(CLI);
}

/** Copies `archive` into `dir` and catalogs it in the state of `config` (`backups import`); returns the copy. */
export function catalogArchive(config, archive, dir) {
  mkdirSync(dir, { recursive: true });
  const copy = path.join(dir, path.basename(archive));
  copyFileSync(archive, copy);
  execFileSync(process.execPath, [...cliArgs(), 'backups', 'import', copy, '--config', config, '--json'], {
    stdio: 'ignore',
  });
  return copy;
}

/** A runwarden backup of the bench's data set (quick or 1x): the archive the restore rows start from. */
export async function takeBackup(ctx, work) {
  const dataset = ctx.dataset(ctx.quick ? 'quick' : '1x');
  const measured = await runwardenBackup(writeBackupConfig(path.join(work, 'backup'), dataset));
  return { file: measured.result.file, dataset };
}
