import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PAUSE_ENV } from '../src/restore/restore-pause.js';
import type { RestoreJournal } from '../src/restore/restore-journal.js';
import { checkDatabase } from '../src/restore/safety-copy.js';
import { daemonReady, runCli, spawnCli, waitForPoint } from './helpers/cli.js';
import { createDatabase, labelsIn } from './helpers/restore-archive.js';
import { useCleanups, useTempDir } from './helpers/temp.js';

// Spawns the built CLI: run `npx tsc -p tsconfig.json` first (npm test does).
const tempDir = useTempDir('runwarden-restore-all-cli-');
const cleanups = useCleanups();

/** A data folder (main, tenants acme and beta, media), a config, one real backup, then changes. */
function site() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'));
  const files = {
    main: path.join(data, 'db.sqlite3'),
    acme: path.join(data, 'tenants', 'acme.sqlite3'),
    beta: path.join(data, 'tenants', 'beta.sqlite3'),
    media: path.join(data, 'media'),
  };
  createDatabase(files.main, ['main 1']);
  createDatabase(files.acme, ['a1', 'a2']);
  createDatabase(files.beta, ['b1']);
  writeFileSync(path.join(files.media, 'logo.txt'), 'logo');
  const config = path.join(root, 'runwarden.yaml');
  writeFileSync(
    config,
    stringify({
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      log: { format: 'json', level: 'info' },
      backup: {
        dir: './backups',
        schedule: '0 3 1 1 *',
        retention: { keep_within: '0s', keep_last: 5 },
        sources: { data_dir: './data' },
      },
    }),
  );
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '--config', config], { env });
  const backup = cli(['backup', '--json']);
  expect(backup.status, backup.stderr).toBe(0);
  const archive = (JSON.parse(backup.stdout) as { file: string }).file;
  // What happened since the backup: every database changed, a media file replaced, one uploaded.
  for (const file of [files.main, files.acme, files.beta]) {
    const db = new Database(file);
    db.exec("DELETE FROM items; INSERT INTO items (label) VALUES ('damaged')");
    db.close();
  }
  writeFileSync(path.join(files.media, 'logo.txt'), 'bad logo');
  writeFileSync(path.join(files.media, 'new.txt'), 'uploaded since');
  const journal = path.join(root, 'state', 'restore-journal.json');
  return { root, data, files, config, cli, archive, journal };
}

type Site = ReturnType<typeof site>;

function state(files: Site['files']) {
  const media = Object.fromEntries(
    readdirSync(files.media)
      .sort()
      .map((name) => [name, readFileSync(path.join(files.media, name), 'utf8')]),
  );
  return { main: labelsIn(files.main), acme: labelsIn(files.acme), beta: labelsIn(files.beta), media };
}

const ARCHIVED = { main: ['main 1'], acme: ['a1', 'a2'], beta: ['b1'], media: { 'logo.txt': 'logo' } };
const DAMAGED = {
  main: ['damaged'],
  acme: ['damaged'],
  beta: ['damaged'],
  media: { 'logo.txt': 'bad logo', 'new.txt': 'uploaded since' },
};

/** Runs `restore --all` paused after its first swap (the main database), and kills it with -9. */
async function killedAfterFirstSwap(run: Site): Promise<RestoreJournal> {
  const restore = spawnCli(
    ['restore', run.archive, '--all', '--force', '--no-backup', '--config', run.config],
    {
      env: { [PAUSE_ENV]: 'swapped-1' },
    },
  );
  cleanups.push(async () => {
    if (restore.child.exitCode === null && restore.child.signalCode === null) restore.child.kill('SIGKILL');
    await restore.exited;
  });
  await waitForPoint(
    restore,
    () => (restore.output.stderr.includes('restore paused at swapped-1') ? true : undefined),
    'the restore to pause after its first swap',
  );
  restore.child.kill('SIGKILL');
  await restore.exited;
  expect(labelsIn(run.files.main)).toEqual(ARCHIVED.main);
  expect(labelsIn(run.files.acme)).toEqual(DAMAGED.acme);
  return JSON.parse(readFileSync(run.journal, 'utf8')) as RestoreJournal;
}

async function startDaemon(config: string) {
  const daemon = spawnCli(['daemon', '--config', config]);
  cleanups.push(async () => {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  });
  await daemonReady(daemon);
  const lines = daemon.output.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { daemon, lines };
}

function leftovers(data: string): string[] {
  return [...readdirSync(data), ...readdirSync(path.join(data, 'tenants'))].filter((name) =>
    name.includes('.restore-'),
  );
}

describe('runwarden restore --all (CLI)', () => {
  it('restores everything with one pre-restore backup and prints a JSON report', () => {
    const run = site();
    const result = run.cli(['restore', run.archive, '--all', '--force', '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(state(run.files)).toEqual(ARCHIVED);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      archive: run.archive,
      verification: { method: 'catalog-manifest' },
      journal: run.journal,
      recovered: null,
      files: 4,
    });
    expect(report.pre_restore_backup).toMatch(/backup_completo_\d{8}_\d{6}\.zip$/);
    expect(
      report.targets.map((target: Record<string, unknown>) => [target.kind, target.name, target.target]),
    ).toEqual([
      ['db', 'main', run.files.main],
      ['tenant', 'acme', run.files.acme],
      ['tenant', 'beta', run.files.beta],
      ['media', 'media', run.files.media],
    ]);
    for (const target of report.targets as Array<Record<string, unknown>>) {
      expect(target.bytes).toBeGreaterThan(0);
      expect(existsSync(target.safety_copy as string)).toBe(true);
    }
    expect(labelsIn(report.targets[1].safety_copy)).toEqual(['damaged']);
    // One pre-restore backup for the four targets.
    expect(readdirSync(path.join(run.root, 'backups')).filter((name) => name.endsWith('.zip'))).toHaveLength(
      2,
    );
    expect(existsSync(run.journal)).toBe(false);
  });

  it('--tenants acme restores only that tenant; usage errors exit 2', () => {
    const run = site();
    const result = run.cli(['restore', run.archive, '--tenants', 'acme', '--force', '--no-backup']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`restored 1 target(s) from ${run.archive}`);
    expect(state(run.files)).toEqual({ ...DAMAGED, acme: ARCHIVED.acme });
    const bad = run.cli(['restore', run.archive, '--tenants', '../x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--tenants: "../x" is not a tenant id');
    const mixed = run.cli(['restore', run.archive, '--all', '--db', 'main']);
    expect(mixed.status).toBe(2);
  });

  it('a restore killed after its first swap is finished by the next restore command', async () => {
    const run = site();
    await killedAfterFirstSwap(run);
    const next = run.cli(['restore', run.archive, '--tenant', 'beta', '--force', '--no-backup']);
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toContain('finished a restore that was stopped mid-swap');
    expect(state(run.files)).toEqual(ARCHIVED);
    for (const file of [run.files.main, run.files.acme, run.files.beta]) checkDatabase(file);
    expect(existsSync(run.journal)).toBe(false);
    expect(leftovers(run.data)).toEqual([]);
  });

  it('a restore killed after its first swap is finished by the next daemon start, its staged files kept by the clean-up', async () => {
    const run = site();
    const journal = await killedAfterFirstSwap(run);
    // The staged files carry the killed writer's name: without the journal the clean-up removes them.
    expect(journal.swaps.slice(1).every((swap) => existsSync(swap.staged))).toBe(true);
    const { lines } = await startDaemon(run.config);
    expect(
      lines.find((line) => line.message === 'finished a restore that was stopped mid-swap'),
    ).toMatchObject({
      direction: 'forward',
      archive: run.archive,
    });
    expect(state(run.files)).toEqual(ARCHIVED);
    expect(existsSync(run.journal)).toBe(false);
    expect(leftovers(run.data)).toEqual([]);
  });

  it('a restore killed mid-swap whose staged copy was lost is undone by the next daemon start', async () => {
    const run = site();
    const journal = await killedAfterFirstSwap(run);
    rmSync(journal.swaps[2]?.staged as string); // beta's staged copy, deleted by hand
    const { lines } = await startDaemon(run.config);
    expect(lines.find((line) => String(line.message).startsWith('undid a restore'))).toMatchObject({
      direction: 'back',
    });
    expect(state(run.files)).toEqual(DAMAGED);
    expect(existsSync(run.journal)).toBe(false);
    expect(leftovers(run.data)).toEqual([]);
  });

  it('keeps the journal and its files when the daemon cannot finish it, and the clean-up leaves them', async () => {
    const run = site();
    const journal = await killedAfterFirstSwap(run);
    // acme's place is taken by a folder: its swap (a rename of a file over it) fails for real.
    rmSync(run.files.acme);
    mkdirSync(run.files.acme);
    writeFileSync(path.join(run.files.acme, 'x'), 'x');
    const { lines } = await startDaemon(run.config);
    expect(
      lines.find((line) => line.message === 'could not finish or undo an interrupted restore'),
    ).toBeDefined();
    expect(existsSync(run.journal)).toBe(true);
    for (const swap of journal.swaps.slice(1)) expect(existsSync(swap.staged)).toBe(true);
  });
});
