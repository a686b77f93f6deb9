import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDataDir, writeBackupConfigFile } from './helpers/backup.js';
import { CLI } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-not-writable-');

/** `nobody`: a uid that is not root, so folder modes apply to it. */
const NOBODY = 65534;
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs the built CLI as `nobody` (tests run as root in CI, where modes would not stop root). */
function runCliAsNobody(args: string[], cwd: string) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    uid: NOBODY,
    gid: NOBODY,
    env: { ...process.env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr };
}

/** A config whose state folder `nobody` may write, with data it may read and `backup.dir` as given. */
function setUp(backupDir: string) {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  makeDataDir(dir);
  mkdirSync(path.join(dir, 'state'));
  chownSync(path.join(dir, 'state'), NOBODY, NOBODY);
  const config = writeBackupConfigFile(dir, { dir: path.join(dir, backupDir), lock_wait: '0s' });
  return { dir, config };
}

// CI runs as root; without root there is no other uid to become, so this is skipped there only.
describe.skipIf(!asRoot && process.env.CI !== 'true')('a backup folder this uid cannot write', () => {
  it('fails naming backup.dir, the folder and the uid, and creates nothing', () => {
    const { dir, config } = setUp('backups');
    const backups = path.join(dir, 'backups');
    mkdirSync(backups, { mode: 0o755 }); // root's: nobody may read it, not write it

    const result = runCliAsNobody(['backup', '--config', config], dir);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`backup.dir ${backups} is not writable by uid ${NOBODY} (EACCES)`);
    expect(result.stderr).not.toContain('create lock');
    expect(readdirSync(backups)).toEqual([]);
  });

  it('says the same when backup.dir does not exist and cannot be created', () => {
    const { dir, config } = setUp(path.join('locked', 'backups'));
    mkdirSync(path.join(dir, 'locked'), { mode: 0o755 });
    const backups = path.join(dir, 'locked', 'backups');

    const result = runCliAsNobody(['backup', '--config', config], dir);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`backup.dir ${backups} is not writable by uid ${NOBODY} (EACCES)`);
    expect(existsSync(backups)).toBe(false);
  });

  it('the daemon says the same of a state_dir it cannot write', () => {
    const { dir, config } = setUp('backups');
    const state = path.join(dir, 'state');
    chownSync(state, 0, 0);

    const result = runCliAsNobody(['daemon', '--config', config], dir);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`state_dir ${state} is not writable by uid ${NOBODY} (EACCES)`);
    expect(readdirSync(state)).toEqual([]);
  });
});
