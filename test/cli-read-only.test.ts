import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORE_FILE } from '../src/store/store.js';
import { makeDataDir, writeBackupConfigFile } from './helpers/backup.js';
import { runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-read-only-');

/** Every file and folder under `dir` with a digest of each file's bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = entry.isFile()
      ? createHash('sha256').update(readFileSync(full)).digest('hex')
      : 'dir';
  }
  return out;
}

const READ_ONLY: string[][] = [
  ['status'],
  ['status', '--json'],
  ['history'],
  ['history', '--json'],
  ['backups', 'list'],
  ['backups', 'list', '--json'],
  ['backups', 'prune', '--dry-run'],
  ['config', 'check'],
  ['config', 'print'],
];

describe('read-only commands', () => {
  it.each(READ_ONLY.map((args) => [args.join(' '), args] as const))(
    'create nothing where no config and no state exist: %s',
    (_name, args) => {
      const cwd = tempDir();
      const result = runCli(args, { cwd });
      expect(result.status, result.stderr).toBe(0);
      expect(readdirSync(cwd)).toEqual([]);
    },
  );

  it('report that there is no state yet', () => {
    const cwd = tempDir();
    const status = runCli(['status'], { cwd });
    expect(status.stdout).toContain('no services are configured');
    expect(status.stdout).toContain(`no state yet in ${path.join(cwd, 'state')}`);
    expect(status.stdout).toContain('last backup: none');
    expect(JSON.parse(runCli(['status', '--json'], { cwd }).stdout)).toEqual({
      services: [],
      last_backup: null,
      recovery_point: null,
    });
    expect(status.stdout).toContain('recovery point: none (no verified backup');
    expect(runCli(['history'], { cwd }).stdout).toContain('no history yet');
  });

  it('change nothing in an existing state folder, and status shows the last backup with no services', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = writeBackupConfigFile(dir);
    const backup = runCli(['backup', '--json', '-c', config]);
    expect(backup.status, backup.stderr).toBe(0);
    const { file } = JSON.parse(backup.stdout) as { file: string };
    const before = snapshot(dir);
    expect(Object.keys(before)).toContain(path.join('state', STORE_FILE));

    for (const args of READ_ONLY) {
      const result = runCli([...args, '-c', config]);
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    expect(snapshot(dir)).toEqual(before);

    const status = runCli(['status', '-c', config]);
    expect(status.stdout).toContain('no services are configured');
    expect(status.stdout).toContain(`last backup: ${file}`);
    const json = JSON.parse(runCli(['status', '--json', '-c', config]).stdout);
    expect(json.last_backup).toMatchObject({ file, reason: 'manual' });
    // The backup just taken is verified: it is the recovery point, its age whole seconds.
    expect(json.recovery_point).toEqual({ file, at: json.last_backup.at, age_seconds: expect.any(Number) });
    expect(status.stdout).toMatch(
      /recovery point: \S+, \d+s ago \(.*\); a restore now loses what was written since/,
    );
  });
});
