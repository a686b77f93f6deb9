import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BACKUP_LOCK_FILE } from '../src/backup/lock.js';
import { isArchiveName } from '../src/backup/naming.js';
import { verifyArchive } from '../src/archive/verify.js';
import { makeDataDir, writeBackupConfigFile } from './helpers/backup.js';
import { runCli, spawnCli, waitForPoint } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-backup-cli-');

interface ListRow {
  file: string;
  status: string;
}

function list(config: string): ListRow[] {
  const result = runCli(['backups', 'list', '--json', '-c', config]);
  expect(result.status, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { backups: ListRow[] }).backups;
}

/** A data folder whose backup takes a while: ~24 MB of incompressible rows and a few MB of media. */
function makeSlowData(dir: string): void {
  makeDataDir(dir, {
    media: { 'big.bin': randomBytes(4 * 1024 * 1024), 'a/notes.txt': 'notes '.repeat(1000) },
  });
  const db = new Database(path.join(dir, 'data', 'db.sqlite3'));
  db.exec('CREATE TABLE filler (b BLOB)');
  const insert = db.prepare('INSERT INTO filler VALUES (randomblob(8000))');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run();
  })();
  db.close();
}

describe('runwarden backup / backups (CLI)', () => {
  it('backs up, lists, verifies, and refuses a tampered archive naming the entry', () => {
    const dir = tempDir();
    makeDataDir(dir, { media: { 'docs/a.txt': 'a '.repeat(100), 'raw.png': 'not really a png, just text' } });
    const config = writeBackupConfigFile(dir);
    const backup = runCli(['backup', '--reason', 'pre-deploy', '--json', '-c', config]);
    expect(backup.status, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout) as { file: string; reason: string; entries: number };
    expect(result).toMatchObject({ reason: 'pre-deploy', entries: 5 });
    const unzip = spawnSync('unzip', ['-t', result.file], { encoding: 'utf8' });
    expect(unzip.status, unzip.stdout).toBe(0);
    expect(list(config)).toEqual([expect.objectContaining({ file: result.file, status: 'verified' })]);
    expect(runCli(['backups', 'verify', '--all', '-c', config]).status).toBe(0);

    const bytes = readFileSync(result.file);
    const at = bytes.indexOf('not really a png');
    expect(at, 'a PNG name without PNG bytes is deflated, so this text must not be found').toBe(-1);
    // Flip a byte inside the manifest-listed data of the first entry (past its local header).
    bytes[80] = (bytes[80] as number) ^ 0xff;
    writeFileSync(result.file, bytes);
    const verify = runCli(['backups', 'verify', result.file, '--json', '-c', config]);
    expect(verify.status).toBe(1);
    const [outcome] = (JSON.parse(verify.stdout) as { results: Array<{ ok: boolean; error: string }> })
      .results;
    expect(outcome?.ok).toBe(false);
    expect(outcome?.error).toContain('entry db/db.sqlite3');
    expect(list(config)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('lists an archive the catalog lacks and imports it after verification', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = writeBackupConfigFile(dir);
    const backup = runCli(['backup', '--json', '-c', config]);
    const { file } = JSON.parse(backup.stdout) as { file: string };
    rmSync(path.join(dir, 'state'), { recursive: true });
    expect(list(config)).toEqual([expect.objectContaining({ file, status: 'uncataloged' })]);
    const imported = runCli(['backups', 'import', path.basename(file), '-c', config]);
    expect(imported.status, imported.stderr).toBe(0);
    expect(list(config)).toEqual([expect.objectContaining({ file, status: 'verified' })]);

    const outside = path.join(dir, 'elsewhere.zip');
    copyFileSync(file, outside);
    const refused = runCli(['backups', 'import', outside, '-c', config]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('is not in the backup folder');
  });

  it('two CLI backups never run at once: one waits for the other, or fails clearly with lock_wait 0s', async () => {
    const dir = tempDir();
    makeSlowData(dir);
    const config = writeBackupConfigFile(dir);
    const runs = [spawnCli(['backup', '--json', '-c', config]), spawnCli(['backup', '--json', '-c', config])];
    const exits = await Promise.all(runs.map((run) => run.exited));
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);
    const spans = runs
      .map((run) => JSON.parse(run.output.stdout) as { started_at: string; finished_at: string })
      .map((result) => [Date.parse(result.started_at), Date.parse(result.finished_at)] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(spans[0]?.[1]).toBeLessThanOrEqual(spans[1]?.[0] as number);

    const impatient = writeBackupConfigFile(dir, { lock_wait: '0s' });
    const holder = spawnCli(['backup', '-c', config]);
    await waitForPoint(
      holder,
      () => (existsSync(path.join(dir, 'backups', BACKUP_LOCK_FILE)) ? true : undefined),
      'the lock',
    );
    const refused = runCli(['backup', '-c', impatient]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/a backup is already running \(pid \d+ holds/);
    expect((await holder.exited).code).toBe(0);
  });

  it('a kill -9 at any point leaves nothing counted as a valid backup, and the next run cleans up', async () => {
    const dir = tempDir();
    makeSlowData(dir);
    const config = writeBackupConfigFile(dir, {}, 'debug');
    const backups = path.join(dir, 'backups');
    for (const point of ['snapshot started', 'database archived', 'verifying archive']) {
      const run = spawnCli(['backup', '--verbose', '-c', config]);
      await waitForPoint(
        run,
        () => (run.output.stderr.includes(`"message":"${point}"`) ? true : undefined),
        point,
      );
      run.child.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');

      // Nothing the killed run left is listed as verified; any finished archive name verifies.
      for (const row of list(config)) expect(row.status).not.toBe('verified');
      for (const name of readdirSync(backups).filter((entry) => isArchiveName(entry, 'backup_completo'))) {
        await verifyArchive(path.join(backups, name));
      }
    }
    const next = runCli(['backup', '--json', '-c', config]);
    expect(next.status, next.stderr).toBe(0);
    const left = readdirSync(backups);
    expect(left.filter((name) => name.endsWith('.partial') || name.startsWith('.runwarden-tmp'))).toEqual([]);
    expect(left).not.toContain(BACKUP_LOCK_FILE);
    expect(list(config).filter((row) => row.status === 'verified')).toHaveLength(1);
  });
});
