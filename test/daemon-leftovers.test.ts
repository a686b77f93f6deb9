import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PAUSE_ENV } from '../src/restore/restore-pause.js';
import { makeDataDir } from './helpers/backup.js';
import { runCli, spawnCli, waitFor } from './helpers/cli.js';
import { PROCESS_START, WORK_BACKSTOP } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { plus } from './helpers/wait.js';

const tempDir = useTempDir('runwarden-leftovers-');
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
});

/** App data whose backup takes a while (~24 MB of incompressible rows), with a config beside it. */
function site() {
  const dir = tempDir();
  makeDataDir(dir);
  const db = new Database(path.join(dir, 'data', 'db.sqlite3'));
  db.exec('CREATE TABLE filler (b BLOB)');
  const insert = db.prepare('INSERT INTO filler VALUES (randomblob(8000))');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run();
  })();
  db.close();
  const config = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    config,
    stringify({
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      log: { format: 'json', level: 'info' },
      backup: { dir: './backups', lock_wait: '0s', sources: { data_dir: './data' } },
    }),
  );
  return { dir, config, backups: path.join(dir, 'backups'), data: path.join(dir, 'data') };
}

/** Starts a CLI backup and stops it (SIGSTOP) once its partial archive exists; returns it. */
async function backupCaughtMidArchive(dir: string, config: string) {
  const run = spawnCli(['backup', '--config', config]);
  children.push(run.child);
  await waitFor(
    () => {
      if (run.child.exitCode !== null) throw new Error(`backup exited early:\n${run.output.stderr}`);
      const names = existsSync(path.join(dir, 'backups')) ? readdirSync(path.join(dir, 'backups')) : [];
      return names.some((name) => name.endsWith('.zip.partial')) ? true : undefined;
    },
    'the backup to be writing its archive',
    plus(PROCESS_START, WORK_BACKSTOP),
  );
  run.child.kill('SIGSTOP');
  return run;
}

/**
 * A process that writes, under its own name, what a `backups verify` writes in backup.dir and what
 * a restore writes beside the main database while it takes the safety copy, then waits. Returns it
 * with the paths it wrote.
 */
async function writerOfTemps(backups: string, db: string) {
  const dist = (file: string) => JSON.stringify(new URL(`../dist/util/${file}`, import.meta.url).href);
  const script = `
    const { writeFileSync } = await import('node:fs');
    const { tempPath } = await import(${dist('temp-files.js')});
    const { partialNameOf } = await import(${dist('durable-fs.js')});
    const files = [
      tempPath(${JSON.stringify(backups)}, 'verify-db.sqlite3'),
      partialNameOf(${JSON.stringify(`${db}.pre-restore-20260101_000000`)}),
    ];
    for (const file of files) writeFileSync(file, 'being written');
    process.stdout.write(JSON.stringify(files) + '\\n');
    setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const files = await waitFor(
    () => (out.endsWith('\n') ? (JSON.parse(out) as string[]) : undefined),
    'the writer',
    PROCESS_START,
  );
  return { child, files };
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Starts the daemon, waits until it is ready, and returns its parsed log lines so far. */
async function startDaemon(config: string) {
  const daemon = spawnCli(['daemon', '--config', config]);
  children.push(daemon.child);
  const lines = () =>
    daemon.output.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  await waitFor(
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited:\n${daemon.output.stderr}`);
      return lines().some((line) => line.message === 'runwarden daemon ready') ? true : undefined;
    },
    'the daemon to be ready',
    PROCESS_START,
  );
  return { daemon, lines };
}

describe('daemon start-up cleanup', () => {
  it("removes what killed backups and restores left, and never a live writer's files", async () => {
    const { dir, config, backups, data } = site();
    const db = path.join(data, 'db.sqlite3');
    const first = runCli(['backup', '--config', config]);
    expect(first.status, first.stderr).toBe(0);
    const archive = readdirSync(backups).find((name) => name.endsWith('.zip')) as string;

    // A backup killed with kill -9 while it wrote its archive (its lock, partial and temp files stay).
    const killedBackup = await backupCaughtMidArchive(dir, config);
    const leftByBackup = readdirSync(backups).filter((name) => name !== archive);
    expect(leftByBackup).toContain('.runwarden-backup.lock');
    await killHard(killedBackup.child);
    // A restore killed with kill -9 after it wrote its temp copy of the database.
    const restore = spawnCli(
      ['restore', archive, '--db', 'main', '--force', '--no-backup', '--config', config],
      {
        env: { [PAUSE_ENV]: 'temp-checked' },
      },
    );
    children.push(restore.child);
    await waitFor(
      () => (restore.output.stderr.includes('restore paused at temp-checked') ? true : undefined),
      'the restore to pause',
      plus(PROCESS_START, WORK_BACKSTOP),
    );
    await killHard(restore.child);
    const leftByRestore = readdirSync(data).filter((name) => name.includes('.restore-'));
    expect(leftByRestore.length).toBeGreaterThan(0);
    // A safety copy being written by a process killed with kill -9, and the same by a live one.
    const killedWriter = await writerOfTemps(backups, db);
    await killHard(killedWriter.child);
    const liveWriter = await writerOfTemps(backups, db);
    const liveTemp = path.basename(liveWriter.files[0] as string);
    const killedInBackups = readdirSync(backups).filter(
      (name) => ![archive, liveTemp, '.runwarden-backup.lock'].includes(name),
    );
    expect(killedInBackups.some((name) => name.endsWith('.zip.partial'))).toBe(true);

    const { daemon, lines } = await startDaemon(config);
    expect(readdirSync(backups).sort()).toEqual([archive, liveTemp].sort());
    expect(readdirSync(data).filter((name) => name.includes('restore'))).toEqual([
      path.basename(liveWriter.files[1] as string),
    ]);
    const cleanup = lines().find(
      (line) => line.message === 'removed files left by killed backups and restores',
    );
    expect([...((cleanup?.removed as string[] | undefined) ?? [])].sort()).toEqual(
      [
        ...killedInBackups.map((name) => path.join(backups, name)),
        ...leftByRestore.map((name) => path.join(data, name)),
        killedWriter.files[1] as string, // its temp file in backup.dir is one of killedInBackups
      ].sort(),
    );
    // The killed backup's lock (the restore was killed before it takes the lock).
    const takeOver = lines().find((line) => line.message === 'taking over a stale lock');
    expect(takeOver).toMatchObject({
      holder_pid: killedBackup.child.pid,
    });
    // The database the killed restore was replacing is as it was.
    expect(readFileSync(db).subarray(0, 16).toString()).toBe('SQLite format 3\0');
    daemon.child.kill('SIGTERM');
    await new Promise((resolve) => daemon.child.once('exit', resolve));
  });

  it('leaves a CLI backup that runs at that moment alone, and it completes', async () => {
    const { dir, config, backups } = site();
    const live = await backupCaughtMidArchive(dir, config);
    const before = readdirSync(backups).sort();

    const { daemon, lines } = await startDaemon(config);
    expect(readdirSync(backups).sort()).toEqual(before);
    expect(lines().find((line) => line.message?.toString().startsWith('a backup is running'))).toMatchObject({
      holder_pid: live.child.pid,
    });
    daemon.child.kill('SIGTERM');
    await new Promise((resolve) => daemon.child.once('exit', resolve));

    live.child.kill('SIGCONT');
    expect(await live.exited, live.output.stderr).toEqual({ code: 0, signal: null });
    const archives = readdirSync(backups);
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatch(/^backup_completo_\d{8}_\d{6}\.zip$/);
  });
});
