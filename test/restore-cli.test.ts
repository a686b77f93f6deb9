import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { PAUSE_ENV, RESTORE_STEPS } from '../src/restore/restore-pause.js';
import { checkDatabase } from '../src/restore/safety-copy.js';
import { Store } from '../src/store/store.js';
import { runCli, spawnCli, waitForPoint } from './helpers/cli.js';
import { createDatabase, labelsIn } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

// Spawns the built CLI: run `npx tsc -p tsconfig.json` first (npm test does).
const tempDir = useTempDir('runwarden-restore-cli-');

/** A data folder like the guide's app, a config pointing at it, and one real backup of it. */
function site() {
  const root = tempDir();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'));
  createDatabase(path.join(data, 'db.sqlite3'), ['main 1']);
  createDatabase(path.join(data, 'tenants', 'acme.sqlite3'), ['a1', 'a2', 'a3']);
  createDatabase(path.join(data, 'tenants', 'beta.sqlite3'), ['b1']);
  writeFileSync(path.join(data, 'media', 'logo.txt'), 'logo');
  const config = path.join(root, 'runwarden.yaml');
  writeFileSync(
    config,
    'state_dir: ./state\nlog:\n  level: warn\nbackup:\n  dir: ./backups\n  retention:\n    keep_within: 0s\n    keep_last: 1\n  sources:\n    data_dir: ./data\n',
  );
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '--config', config], { env });
  const backup = cli(['backup', '--json']);
  expect(backup.stderr).toBe('');
  expect(backup.status).toBe(0);
  const archive = (JSON.parse(backup.stdout) as { file: string }).file;
  const acme = path.join(data, 'tenants', 'acme.sqlite3');
  return { root, data, config, cli, archive, acme };
}

/** The tenant's current state after the mistake the restore undoes (partly left in its WAL). */
function breakTenant(file: string): void {
  const db = new Database(file);
  db.pragma('wal_autocheckpoint = 0');
  db.exec("DELETE FROM items WHERE label != 'a1'; INSERT INTO items (label) VALUES ('bad')");
  db.close();
}

/** Flips one byte inside the compressed data of `entry` (found through its local header). */
function flipEntryByte(archive: string, entry: string): void {
  const bytes = readFileSync(archive);
  const header = bytes.indexOf(Buffer.from(entry)) - 30;
  expect(bytes.readUInt32LE(header)).toBe(0x04034b50);
  const data = header + 30 + bytes.readUInt16LE(header + 26) + bytes.readUInt16LE(header + 28);
  bytes[data + 20] = (bytes[data + 20] as number) ^ 0x55;
  writeFileSync(archive, bytes);
}

const OLD = ['a1', 'bad'];
const NEW = ['a1', 'a2', 'a3'];

describe('runwarden restore (CLI)', () => {
  it('restores one tenant: rows back, a safety copy, a pre-restore backup, exit 0', () => {
    const { data, root, cli, archive, acme } = site();
    breakTenant(acme);
    const result = cli(['restore', archive, '--tenant', 'acme', '--force', '--json']);
    expect(result.status).toBe(0);
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({
      kind: 'tenant',
      name: 'acme',
      target: acme,
      safety_copy_method: 'snapshot',
    });
    expect(labelsIn(acme)).toEqual(NEW);
    expect(labelsIn(path.join(data, 'tenants', 'beta.sqlite3'))).toEqual(['b1']);
    expect(outcome.safety_copy).toMatch(/acme\.sqlite3\.pre-restore-\d{8}_\d{6}$/);
    expect(labelsIn(outcome.safety_copy)).toEqual(OLD);
    expect(() => checkDatabase(outcome.safety_copy)).not.toThrow();
    // The pre-restore backup holds the state before the restore.
    expect(outcome.pre_restore_backup).toMatch(/backup_completo_\d{8}_\d{6}\.zip$/);
    expect(existsSync(outcome.pre_restore_backup)).toBe(true);
    const store = Store.open(path.join(root, 'state'));
    expect(store.restores.list()[0]).toMatchObject({
      result: 'completed',
      safetyCopy: outcome.safety_copy,
      preRestoreBackup: outcome.pre_restore_backup,
    });
    store.close();
  });

  it('prints the safety copy path for a person', () => {
    const { cli, archive } = site();
    const result = cli(['restore', path.basename(archive), '--tenant', 'acme', '--force', '--no-backup']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`restored tenant acme from ${archive}`);
    expect(result.stdout).toMatch(
      /safety copy of the replaced database: .*acme\.sqlite3\.pre-restore-\d{8}_\d{6}\n/,
    );
    expect(result.stdout).not.toContain('pre-restore backup:');
  });

  it('refuses an existing target without --force (exit 1), touching nothing', () => {
    const { cli, archive, acme } = site();
    breakTenant(acme);
    const before = readFileSync(acme);
    const listing = readdirSync(path.dirname(acme)).sort();
    const result = cli(['restore', archive, '--tenant', 'acme']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`restore target ${acme} already exists; pass --force to replace it`);
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(path.dirname(acme)).sort()).toEqual(listing);
  });

  it('refuses a tampered archive with the reason (exit 1), touching nothing', () => {
    const { cli, archive, acme, root } = site();
    flipEntryByte(archive, 'tenants/acme.sqlite3');
    const before = readFileSync(acme);
    const backups = readdirSync(path.join(root, 'backups')).sort();
    const result = cli(['restore', archive, '--tenant', 'acme', '--force']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is corrupt: /);
    expect(readFileSync(acme).equals(before)).toBe(true);
    expect(readdirSync(path.dirname(acme)).filter((name) => name.includes('restore'))).toEqual([]);
    expect(readdirSync(path.join(root, 'backups')).sort()).toEqual(backups); // no pre-restore backup either
  });

  it('refuses an archive replaced since it was cataloged, even a self-consistent one (exit 1)', () => {
    const { cli, archive, acme } = site();
    const other = cli(['backup', '--json']);
    expect(other.status).toBe(0);
    writeFileSync(archive, readFileSync((JSON.parse(other.stdout) as { file: string }).file));
    breakTenant(acme);
    const before = readFileSync(acme);
    const result = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`backup ${archive} changed since it was cataloged`);
    expect(readFileSync(acme).equals(before)).toBe(true);
  });

  it.each([
    [['restore', 'x.zip'], 'name exactly one of --db main, --tenant <id> or --media'],
    [['restore', 'x.zip', '--db', 'main', '--media'], 'name exactly one of'],
    [
      ['restore', 'x.zip', '--db', 'other.sqlite3'],
      '--db other.sqlite3: only the main database can be restored',
    ],
    [['restore', '--tenant', 'acme'], "missing required argument 'backup'"],
    [['restore', 'x.zip', '--tenant', 'acme', '--bogus'], "unknown option '--bogus'"],
  ])('exits 2 on a usage error: %j', (args, message) => {
    const { cli } = site();
    const result = cli(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('exits 1 for an archive that does not exist', () => {
    const { cli } = site();
    const result = cli(['restore', 'nope.zip', '--tenant', 'acme', '--force']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('backup nope.zip not found');
  });

  it.each(RESTORE_STEPS)(
    'kill -9 at step %s leaves the old database or the new one, never a mix',
    async (step) => {
      const { cli, config, archive, acme } = site();
      breakTenant(acme);
      const run = spawnCli(
        ['restore', archive, '--tenant', 'acme', '--force', '--no-backup', '--config', config],
        {
          env: { [PAUSE_ENV]: step },
        },
      );
      await waitForPoint(
        run,
        () => (run.output.stderr.includes(`restore paused at ${step}`) ? true : undefined),
        `the restore to pause at ${step}`,
      );
      run.child.kill('SIGKILL');
      await run.exited;

      checkDatabase(acme);
      expect(labelsIn(acme)).toEqual(step === 'renamed' ? NEW : OLD);

      // The next restore cleans up after the killed one and finishes.
      const again = cli(['restore', archive, '--tenant', 'acme', '--force', '--no-backup', '--json']);
      expect(again.status).toBe(0);
      expect(labelsIn(acme)).toEqual(NEW);
      const left = readdirSync(path.dirname(acme)).filter(
        (name) => name.includes('.restore-') || name === 'acme.sqlite3-wal',
      );
      expect(left).toEqual([]);
    },
  );
});

describe('runwarden backups prune (CLI)', () => {
  it('--dry-run prints keep/delete with the rule and deletes nothing; a real run deletes', () => {
    const { cli, root, archive } = site();
    const second = cli(['backup', '--json']);
    expect(second.status).toBe(0);
    const newest = (JSON.parse(second.stdout) as { file: string }).file;
    const dir = path.join(root, 'backups');

    const dry = cli(['backups', 'prune', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('policy: keep_last 1 (periods in UTC)');
    expect(dry.stdout).toMatch(
      new RegExp(`keep {2}.* {2}${path.basename(newest)} {2}last 1, newest verified`),
    );
    expect(dry.stdout).toMatch(new RegExp(`delete {2}.* {2}${path.basename(archive)}\\n`));
    expect(dry.stdout).toContain('dry run: 1 to keep, 1 would be deleted; nothing was deleted');
    expect(existsSync(archive)).toBe(true);

    const real = cli(['backups', 'prune', '--json']);
    expect(real.status).toBe(0);
    const outcome = JSON.parse(real.stdout);
    expect(outcome).toMatchObject({ dry_run: false, retained: 1, deleted: [archive] });
    expect(readdirSync(dir).filter((name) => name.endsWith('.zip'))).toEqual([path.basename(newest)]);
  });
});
