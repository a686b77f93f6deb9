import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import {
  createDatabase,
  databaseBytes,
  type FixtureEntry,
  fixtureManifest,
  labelsIn,
  setEntryModeInPlace,
  writeFixtureArchive,
} from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

// Spawns the built CLI: run `npx tsc -p tsconfig.json` first (npm test does).
const tempDir = useTempDir('runwarden-entry-types-');

/** An archive name `backups list` and `backups import` take for one of ours. */
const FOREIGN = 'backup_completo_20260101_000000.zip';

function site() {
  const root = tempDir();
  const data = path.join(root, 'data');
  const backups = path.join(root, 'backups');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'));
  mkdirSync(backups);
  createDatabase(path.join(data, 'db.sqlite3'), ['main 1']);
  createDatabase(path.join(data, 'tenants', 'acme.sqlite3'), ['a1', 'a2']);
  createDatabase(path.join(data, 'tenants', 'beta.sqlite3'), ['b1']);
  writeFileSync(path.join(data, 'media', 'logo.txt'), 'logo');
  const config = path.join(root, 'runwarden.yaml');
  writeFileSync(
    config,
    'state_dir: ./state\nlog:\n  level: warn\nbackup:\n  dir: ./backups\n  sources:\n    data_dir: ./data\n',
  );
  const cli = (args: string[]) => runCli([...args, '--config', config]);
  return { root, data, backups, cli };
}

type Site = ReturnType<typeof site>;

function listed(cli: Site['cli']): Array<{ file: string; status: string }> {
  const result = cli(['backups', 'list', '--json']);
  expect(result.status, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { backups: Array<{ file: string; status: string }> }).backups;
}

function verifyError(cli: Site['cli'], archive: string): string | undefined {
  const verify = cli(['backups', 'verify', archive, '--json']);
  expect(verify.status, verify.stdout).toBe(1);
  const [outcome] = (JSON.parse(verify.stdout) as { results: Array<{ ok: boolean; error?: string }> })
    .results;
  expect(outcome?.ok).toBe(false);
  return outcome?.error;
}

/** Entries of a runwarden-format archive: a main database and a media file. */
function regularEntries(root: string): FixtureEntry[] {
  return [
    { path: 'db/db.sqlite3', kind: 'db', data: databaseBytes(root, 'main', ['from the archive']) },
    { path: 'media/logo.txt', kind: 'media', data: Buffer.from('logo') },
  ];
}

describe('an archive entry runwarden would never write (symlink, device, folder, unknown kind)', () => {
  it('a foreign archive of regular files only (yazl) still verifies and imports', async () => {
    const { root, backups, cli } = site();
    const archive = path.join(backups, FOREIGN);
    await writeFixtureArchive(archive, regularEntries(root));
    expect(cli(['backups', 'verify', archive]).status).toBe(0);
    const imported = cli(['backups', 'import', FOREIGN]);
    expect(imported.status, imported.stderr).toBe(0);
    expect(listed(cli)).toEqual([expect.objectContaining({ file: archive, status: 'verified' })]);
  });

  it.each([
    ['a symlink', 0o120777, 'is a symlink'],
    ['a character device', 0o020644, 'is a device'],
    ['a block device', 0o060660, 'is a device'],
    ['a FIFO', 0o010644, 'is a FIFO'],
    ['a folder holding data', 0o040755, 'is a folder'],
    ['an unknown kind', 0o030644, 'is of an unknown kind'],
  ])(
    'backups verify fails and backups import catalogs nothing for %s the manifest vouches for',
    async (_what, mode, says) => {
      const { root, backups, cli } = site();
      const archive = path.join(backups, FOREIGN);
      await writeFixtureArchive(archive, [
        ...regularEntries(root),
        { path: 'media/odd', kind: 'media', data: Buffer.from('../../../etc/passwd'), mode },
      ]);
      const error = verifyError(cli, archive);
      expect(error).toContain(`backup ${archive} is corrupt: entry media/odd: ${says}`);
      expect(error).toContain(
        'not a regular file; runwarden writes only regular files, so the archive was not written by runwarden or was tampered with',
      );

      const imported = cli(['backups', 'import', FOREIGN]);
      expect(imported.status).toBe(1);
      expect(imported.stderr).toContain(`entry media/odd: ${says}`);
      expect(listed(cli)).toEqual([expect.objectContaining({ file: archive, status: 'uncataloged' })]);
    },
  );

  it('an Info-ZIP archive made with --symlinks is refused by verify, import and restore', () => {
    const { root, data, backups, cli } = site();
    const tree = path.join(root, 'tree');
    mkdirSync(path.join(tree, 'db'), { recursive: true });
    mkdirSync(path.join(tree, 'media'));
    const [db, logo] = regularEntries(root) as [FixtureEntry, FixtureEntry];
    writeFileSync(path.join(tree, db.path), db.data);
    writeFileSync(path.join(tree, logo.path), logo.data);
    symlinkSync('logo.txt', path.join(tree, 'media', 'link'));
    const link: FixtureEntry = { path: 'media/link', kind: 'media', data: Buffer.from('logo.txt') };
    const manifest = fixtureManifest([db, logo, link], () => 'store');
    writeFileSync(path.join(tree, 'manifest.json'), JSON.stringify(manifest));
    const archive = path.join(backups, FOREIGN);
    execFileSync(
      'zip',
      ['-q', '-0', '-D', '-X', '--symlinks', '-r', archive, 'manifest.json', 'db', 'media'],
      {
        cwd: tree,
      },
    );
    expect(execFileSync('unzip', ['-Z', archive], { encoding: 'utf8' })).toMatch(/^l.* media\/link$/m);

    expect(verifyError(cli, archive)).toContain('entry media/link: is a symlink');
    expect(cli(['backups', 'import', FOREIGN]).status).toBe(1);
    expect(listed(cli)).toEqual([expect.objectContaining({ status: 'uncataloged' })]);

    const restore = cli(['restore', archive, '--db', 'main', '--force']);
    expect(restore.status).toBe(1);
    expect(restore.stderr).toContain(`backup ${archive} is corrupt: entry media/link: is a symlink`);
    expect(labelsIn(path.join(data, 'db.sqlite3'))).toEqual(['main 1']);
    expect(readdirSync(backups)).toEqual([FOREIGN]); // no pre-restore backup either
  });
});

describe('restore refuses, touching nothing, from a cataloged archive whose other entry became a symlink', () => {
  it.each([
    [['--db', 'main'], 'media/logo.txt'],
    [['--tenant', 'acme'], 'tenants/beta.sqlite3'],
    [['--media'], 'db/db.sqlite3'],
  ])('restore %j with %s a symlink', (scope, tampered) => {
    const { data, backups, cli } = site();
    const backup = cli(['backup', '--json']);
    expect(backup.status, backup.stderr).toBe(0);
    const archive = (JSON.parse(backup.stdout) as { file: string }).file;
    // The archive keeps its size and its manifest: the catalog's fast path would trust it.
    setEntryModeInPlace(archive, tampered, 0o120777);
    // The data changes after the backup, so a restore that went ahead would show.
    createDatabase(path.join(data, 'db2.sqlite3'), ['unrelated']);
    writeFileSync(path.join(data, 'media', 'logo.txt'), 'logo v2');
    const before = {
      main: labelsIn(path.join(data, 'db.sqlite3')),
      acme: labelsIn(path.join(data, 'tenants', 'acme.sqlite3')),
      media: readdirSync(path.join(data, 'media')),
    };

    const restore = cli(['restore', archive, ...scope, '--force']);
    expect(restore.status).toBe(1);
    expect(restore.stderr).toContain(`backup ${archive} is corrupt: entry ${tampered}: is a symlink`);
    expect(labelsIn(path.join(data, 'db.sqlite3'))).toEqual(before.main);
    expect(labelsIn(path.join(data, 'tenants', 'acme.sqlite3'))).toEqual(before.acme);
    expect(readdirSync(path.join(data, 'media'))).toEqual(before.media);
    expect(readFileSync(path.join(data, 'media', 'logo.txt'), 'utf8')).toBe('logo v2');
    expect(readdirSync(backups)).toEqual([path.basename(archive)]); // no pre-restore backup
    expect(readdirSync(data).filter((name) => name.includes('pre-restore'))).toEqual([]);
    expect(existsSync(path.join(data, 'db2.sqlite3'))).toBe(true);

    expect(verifyError(cli, archive)).toContain(`entry ${tampered}: is a symlink`);
  });
});
