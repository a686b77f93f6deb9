import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, spawnCli, waitFor } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-shutdown-');
const running: Array<ReturnType<typeof spawnCli>> = [];

afterEach(async () => {
  for (const daemon of running.splice(0)) {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
});

/** The daemon's JSON log lines (stdout), parsed. */
function logLines(output: { stdout: string }): Array<Record<string, unknown>> {
  return output.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function messages(output: { stdout: string }): string[] {
  return logLines(output).map((line) => String(line.message));
}

/**
 * App data whose main database is ~150 MiB of random (incompressible) rows, so a backup takes
 * seconds: long enough to be caught in the middle by a signal.
 */
function bigAppData(dir: string): string {
  const data = path.join(dir, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'), { recursive: true });
  const db = new Database(path.join(data, 'db.sqlite3'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO blobs (data) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 2_400; i++) insert.run(randomBytes(64 * 1024));
  })();
  db.close();
  const tenant = new Database(path.join(data, 'tenants', 'acme.sqlite3'));
  tenant.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
  tenant.close();
  writeFileSync(path.join(data, 'media', 'terms.txt'), 'terms\n'.repeat(100));
  return data;
}

/** A daemon config taking a backup every second, with the given grace period. */
function backupDaemonConfig(dir: string, gracePeriod: string): string {
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    file,
    stringify({
      state_dir: './state',
      server: { address: '127.0.0.1:0' },
      shutdown: { grace_period: gracePeriod },
      log: { format: 'json', level: 'info' },
      backup: { dir: './backups', schedule: '* * * * * *', sources: { data_dir: './data' } },
    }),
  );
  return file;
}

function backupDirFiles(dir: string): string[] {
  return readdirSync(path.join(dir, 'backups')).sort();
}

/** Starts the daemon and sends SIGTERM once its first backup is being written (the .partial exists). */
async function sigtermMidBackup(dir: string, config: string) {
  const daemon = spawnCli(['daemon', '--config', config]);
  running.push(daemon);
  const partial = await waitFor(
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited early:\n${daemon.output.stderr}`);
      try {
        return backupDirFiles(dir).find((name) => name.endsWith('.zip.partial'));
      } catch {
        return undefined; // the backup folder is not there yet
      }
    },
    'a backup to be in progress (a .zip.partial in the backup folder)',
    30_000,
  );
  daemon.child.kill('SIGTERM');
  return { daemon, partial };
}

describe('SIGTERM during a backup', () => {
  it('lets the backup finish within the grace period: one verified, cataloged archive and no partial file', async () => {
    const dir = tempDir();
    bigAppData(dir);
    const config = backupDaemonConfig(dir, '2m');
    const { daemon, partial } = await sigtermMidBackup(dir, config);

    // The deadline is the grace period: the daemon must be gone by then.
    const exit = await waitFor(
      () => (daemon.child.exitCode === null ? undefined : daemon.exited),
      'the daemon to exit within its grace period',
      120_000,
    );
    expect(exit).toEqual({ code: 0, signal: null });

    // The signal came while the backup ran, and the backup went on after it.
    expect(logLines(daemon.output).find((line) => line.message === 'stopping')?.running).toEqual(['backup']);
    const log = messages(daemon.output);
    expect(log.indexOf('backup completed')).toBeGreaterThan(log.indexOf('stopping'));
    expect(log).not.toContain('work did not finish within the grace period and was aborted');
    const archive = partial.replace(/\.partial$/, '');
    expect(backupDirFiles(dir)).toEqual([archive]);

    const listed = runCli(['backups', 'list', '--json', '--config', config]);
    expect(listed.status).toBe(0);
    const backups = (JSON.parse(listed.stdout) as { backups: Array<{ file: string; status: string }> })
      .backups;
    expect(backups).toEqual([
      expect.objectContaining({ file: path.join(dir, 'backups', archive), status: 'verified' }),
    ]);
    expect(runCli(['backups', 'verify', archive, '--config', config]).status).toBe(0);
  });

  it('past the grace period aborts the backup and leaves no partial or half archive behind', async () => {
    const dir = tempDir();
    bigAppData(dir);
    const config = backupDaemonConfig(dir, '200ms');
    const { daemon } = await sigtermMidBackup(dir, config);

    // Grace period, then at most the work tracker's 5 s for aborted work to unwind.
    const exit = await waitFor(
      () => (daemon.child.exitCode === null ? undefined : daemon.exited),
      'the daemon to exit once the grace period is over',
      30_000,
    );
    expect(exit).toEqual({ code: 0, signal: null });

    const lines = logLines(daemon.output);
    expect(lines.find((line) => line.message === 'stopping')?.running).toEqual(['backup']);
    const aborted = lines.find(
      (line) => line.message === 'work did not finish within the grace period and was aborted',
    );
    expect(aborted?.aborted).toEqual(['backup']);
    expect(lines.find((line) => line.message === 'backup failed')).toMatchObject({
      code: 'RW_SHUTTING_DOWN',
    });
    expect(lines.map((line) => line.message)).not.toContain('backup completed');

    // Nothing half-written: no partial, no archive, no temp snapshot, nothing cataloged.
    expect(backupDirFiles(dir)).toEqual([]);
    const listed = runCli(['backups', 'list', '--json', '--config', config]);
    expect(listed.status).toBe(0);
    expect((JSON.parse(listed.stdout) as { backups: unknown[] }).backups).toEqual([]);
  });
});
