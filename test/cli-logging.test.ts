import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { makeDataDir, writeBackupConfigFile } from './helpers/backup.js';
import { CLI, runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-cli-logging-');

/** The JSON log lines of a command's stderr (its other stderr text, such as errors, aside). */
function logLines(stderr: string): Array<{ level: string; message: string }> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

describe('a command run by a person (stderr not a terminal)', () => {
  it('prints its summary and no log lines when all goes well: backup, then restore', () => {
    const dir = tempDir();
    makeDataDir(dir);
    // log.level info, as in the shipped example: the daemon's level, not the command's.
    const config = writeBackupConfigFile(dir, {}, 'info');
    const backup = runCli(['backup', '-c', config]);
    expect(backup.status, backup.stderr).toBe(0);
    expect(backup.stdout).toContain('backup written and verified');
    expect(backup.stderr).toBe('');

    const archive = backup.stdout.split('\n')[0]?.replace('backup written and verified: ', '') as string;
    const restore = runCli(['restore', archive, '--tenant', 'acme', '--force', '-c', config]);
    expect(restore.status, restore.stderr).toBe(0);
    expect(restore.stdout).toContain('restored tenant acme');
    expect(restore.stderr).toBe('');
  });

  it('still logs warnings, and nothing below them', () => {
    const dir = tempDir();
    makeDataDir(dir);
    // A database in rollback-journal mode blocks its writers while it is copied: a warning.
    const db = new Database(path.join(dir, 'data', 'db.sqlite3'));
    db.pragma('journal_mode = DELETE');
    db.close();
    const backup = runCli(['backup', '-c', writeBackupConfigFile(dir, {}, 'info')]);
    expect(backup.status, backup.stderr).toBe(0);
    const lines = logLines(backup.stderr);
    expect(lines.some((line) => line.message.startsWith('database is not in WAL mode'))).toBe(true);
    expect(new Set(lines.map((line) => line.level))).toEqual(new Set(['warn']));
  });

  it('logs at log.level with --verbose', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const backup = runCli(['backup', '--verbose', '-c', writeBackupConfigFile(dir, {}, 'info')]);
    expect(backup.status, backup.stderr).toBe(0);
    const messages = logLines(backup.stderr).map((line) => line.message);
    expect(messages).toContain('database archived');
    expect(messages).toContain('verifying archive');
  });

  it('an error is still printed (and exits 1) without --verbose', () => {
    const dir = tempDir();
    const config = path.join(dir, 'runwarden.yaml');
    writeFileSync(config, 'state_dir: ./state\nbackup: { sources: { data_dir: ./nowhere } }\n');
    const backup = runCli(['backup', '-c', config]);
    expect(backup.status).toBe(1);
    expect(backup.stderr).toContain('main_db');
  });
});

describe('a command run on a terminal', () => {
  it('writes its log lines to the terminal (stderr), never into its stdout', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = path.join(dir, 'runwarden.yaml');
    // log.format auto: human-readable log lines, since stderr is a terminal.
    writeFileSync(config, 'state_dir: ./state\nbackup: { sources: { data_dir: ./data } }\n');
    const out = path.join(dir, 'out.json');
    // script(1) gives the command a pseudo-terminal; its stdout alone is redirected to a file.
    const command = `'${process.execPath}' '${CLI}' backup --verbose --json -c '${config}' > '${out}'`;
    const run = spawnSync('script', ['-qec', command, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(run.status, run.stdout).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ reason: 'manual' });
    expect(run.stdout).toContain('INFO: backup started');
  });
});
