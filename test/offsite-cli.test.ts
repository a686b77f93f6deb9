import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { spawnCli } from './helpers/cli.js';
import { createDatabase, labelsIn } from './helpers/restore-archive.js';
import { useTempDir } from './helpers/temp.js';

// Spawns the built CLI (run `npx tsc -p tsconfig.json` first) against the storage emulator, which
// lives in this process: every CLI run is asynchronous so the emulator keeps answering.
const BUCKET = 'offsite-cli';
const tempDir = useTempDir('runwarden-offsite-cli-');
let playground: Playground;
let sites = 0;

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET, 'other-bucket'] });
});

afterAll(async () => {
  await playground?.stop();
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A machine: a config with off-site copies in the emulator's bucket under `prefix` (each site its
 * own, so tests do not see each other's objects), a state folder and a backup folder, and, unless
 * `data` is false, the app's data (main db, two tenants, media).
 */
function machine(options: { prefix?: string; data?: boolean; recipients?: string[] } = {}) {
  const root = tempDir();
  const prefix = options.prefix ?? `site-${++sites}/`;
  const data = path.join(root, 'data');
  const backups = path.join(root, 'backups');
  mkdirSync(path.join(data, 'tenants'), { recursive: true });
  mkdirSync(path.join(data, 'media'));
  mkdirSync(backups);
  if (options.data !== false) {
    createDatabase(path.join(data, 'db.sqlite3'), ['main 1', 'main 2']);
    createDatabase(path.join(data, 'tenants', 'acme.sqlite3'), ['a1', 'a2', 'a3']);
    createDatabase(path.join(data, 'tenants', 'beta.sqlite3'), ['b1']);
    writeFileSync(path.join(data, 'media', 'logo.txt'), 'logo');
  }
  const config = path.join(root, 'runwarden.yaml');
  writeFileSync(
    config,
    [
      'state_dir: ./state',
      'log:',
      '  level: warn',
      'backup:',
      '  dir: ./backups',
      '  retention:',
      '    keep_within: 0s',
      '    keep_last: 10',
      '  sources:',
      '    data_dir: ./data',
      '  offsite:',
      `    bucket: ${BUCKET}`,
      `    prefix: ${prefix}`,
      `    api_endpoint: ${playground.storage.url}`,
      ...(options.recipients
        ? ['    encryption:', '      recipients:', ...options.recipients.map((key) => `        - ${key}`)]
        : []),
      '',
    ].join('\n'),
  );
  const cli = async (...args: string[]): Promise<Run> => {
    const run = spawnCli([...args, '--config', config]);
    await run.exited;
    return { status: run.child.exitCode, stdout: run.output.stdout, stderr: run.output.stderr };
  };
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    return { ...result, body: JSON.parse(result.stdout) };
  };
  const backup = async () => {
    const result = await json('backup');
    expect(result.status, result.stderr).toBe(0);
    return result.body as { file: string; offsite?: { state: string; object?: string; generation?: number } };
  };
  return {
    root,
    prefix,
    config,
    cli,
    json,
    backup,
    backups,
    main: path.join(data, 'db.sqlite3'),
    acme: path.join(data, 'tenants', 'acme.sqlite3'),
  };
}

const urlOf = (prefix: string, file: string) => `gs://${BUCKET}/${prefix}${path.basename(file)}`;
const inBucket = (url: string) =>
  playground.storage.objects(BUCKET).find((object) => `gs://${BUCKET}/${object.name}` === url);

function overwrite(file: string, rows: string[]): void {
  const db = new Database(file);
  db.exec('DELETE FROM items');
  const insert = db.prepare('INSERT INTO items (label) VALUES (?)');
  for (const row of rows) insert.run(row);
  db.close();
}

/** Files in the backup folder that are not archives: temp copies a download left. */
const leftovers = (dir: string) => readdirSync(dir).filter((name) => !/^backup_completo_.*\.zip$/.test(name));

describe('off-site copies from the CLI (real client, storage emulator)', () => {
  it('backup copies its archive at once; list, list --offsite and status show it confirmed', async () => {
    const site = machine();
    const made = await site.backup();
    const url = urlOf(site.prefix, made.file);
    expect(made.offsite).toEqual({ state: 'confirmed', object: url, generation: inBucket(url)?.generation });

    const listed = await site.json('backups', 'list');
    expect(listed.body.backlog).toMatchObject({ count: 0, bytes: 0, oldest_started_at: null });
    expect(listed.body.backups[0]).toMatchObject({
      file: made.file,
      offsite: { state: 'confirmed', object: url, generation: made.offsite?.generation, attempts: 0 },
    });
    const human = await site.cli('backups', 'list');
    expect(human.stdout).toMatch(/backup_completo_\d{8}_\d{6}\.zip {2}off-site: confirmed/);
    expect(human.stdout).toContain('off-site backlog: none');

    const remote = await site.json('backups', 'list', '--offsite');
    expect(remote.status, remote.stderr).toBe(0);
    expect(remote.body).toEqual({
      bucket: `gs://${BUCKET}/${site.prefix}`,
      archives: [
        {
          url,
          size: readFileSync(made.file).length,
          generation: made.offsite?.generation,
          updated: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          confirmed_for: made.file,
        },
      ],
    });
    const status = await site.json('status');
    expect(status.body.offsite_backlog).toMatchObject({ count: 0, bytes: 0 });
  });

  it('a bucket that refuses the copy: the backup still succeeds (exit 0, a warning), the archive waits in the backlog', async () => {
    const site = machine();
    playground.storage.injectFault({ operation: '*', bucket: BUCKET, status: 403, times: 20 });
    try {
      const result = await site.cli('backup');
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/warning: off-site copy failed \(RW_STORAGE_DENIED\)/);
      expect(result.stdout).toContain('stays in the backlog');
    } finally {
      playground.storage.clearFaults();
    }
    const listed = await site.json('backups', 'list');
    expect(listed.body.backups[0].offsite).toMatchObject({ state: 'pending', attempts: 1 });
    expect(listed.body.backlog).toMatchObject({ count: 1, bytes: listed.body.backups[0].size });
    const human = await site.cli('backups', 'list');
    expect(human.stdout).toMatch(/off-site: pending \(1 attempt, last error: .*403|denied/i);
    expect(human.stdout).toMatch(/off-site backlog: 1 archive \(.*\) not yet confirmed, the oldest waiting/);
    const status = await site.cli('status');
    expect(status.stdout).toMatch(/off-site backlog: 1 archive/);

    // --no-offsite leaves the new one waiting too; the next backup's pass copies what is due (both
    // new archives), while the refused one waits for its retry time (the daemon's pass).
    const skipped = await site.json('backup', '--no-offsite');
    expect(skipped.body.offsite).toEqual({ state: 'skipped' });
    expect((await site.json('backups', 'list')).body.backlog.count).toBe(2);
    await site.backup();
    const after = await site.json('backups', 'list');
    expect(after.body.backlog.count).toBe(1);
    expect(after.body.backups.map((row: { offsite: { state: string } }) => row.offsite.state)).toEqual([
      'confirmed',
      'confirmed',
      'pending',
    ]);
  });

  it('restores the main database from a gs:// URL: downloaded, fully verified, pre-restore backup, temp copy removed', async () => {
    const site = machine();
    const made = await site.backup();
    overwrite(site.main, ['mistake']);
    const url = urlOf(site.prefix, made.file);
    const result = await site.json('restore', url, '--db', 'main', '--force');
    expect(result.status, result.stderr).toBe(0);
    expect(result.body).toMatchObject({
      archive: url,
      kind: 'db',
      target: site.main,
      verification: { method: 'full' },
      downloaded: { url, generation: made.offsite?.generation, cataloged: made.file },
    });
    expect(result.body.pre_restore_backup).toMatch(/backup_completo_\d{8}_\d{6}\.zip$/);
    expect(labelsIn(site.main)).toEqual(['main 1', 'main 2']);
    expect(labelsIn(result.body.safety_copy)).toEqual(['mistake']);
    expect(leftovers(site.backups)).toEqual([]);
  });

  it('restores a tenant by archive name when its local file is gone, from the confirmed copy (that generation)', async () => {
    const site = machine();
    const made = await site.backup();
    rmSync(made.file);
    overwrite(site.acme, ['bad']);
    const result = await site.cli(
      'restore',
      path.basename(made.file),
      '--tenant',
      'acme',
      '--force',
      '--no-backup',
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`restored tenant acme from ${urlOf(site.prefix, made.file)}`);
    expect(result.stdout).toContain(`downloaded: generation ${made.offsite?.generation}, `);
    expect(result.stdout).toContain(`SHA-256 matched the catalog's ${made.file}`);
    expect(labelsIn(site.acme)).toEqual(['a1', 'a2', 'a3']);
    expect(leftovers(site.backups)).toEqual([]);
  });

  it('an object corrupted in the bucket is refused with RW_STORAGE_CORRUPT; nothing is restored or left behind', async () => {
    const site = machine();
    const made = await site.backup();
    const url = urlOf(site.prefix, made.file);
    playground.storage.corrupt(BUCKET, `${site.prefix}${path.basename(made.file)}`);
    overwrite(site.main, ['current']);
    const before = readFileSync(site.main);
    const archives = readdirSync(site.backups).sort();
    const result = await site.json('restore', url, '--db', 'main', '--force');
    expect(result.status).toBe(1);
    expect(result.body.error.code).toBe('RW_STORAGE_CORRUPT');
    expect(result.body.error.message).toContain(url);
    expect(readFileSync(site.main).equals(before)).toBe(true);
    // No pre-restore backup was taken and no temp file is left: the download failed first.
    expect(readdirSync(site.backups).sort()).toEqual(archives);
  });

  it('names what is wrong: a bad URL is a usage error (exit 2), a missing object names its URL (exit 1)', async () => {
    const site = machine();
    const bad = await site.json('restore', `gs://${BUCKET}/`, '--db', 'main');
    expect(bad.status).toBe(2);
    expect(bad.body.error).toMatchObject({ code: 'RW_USAGE' });
    expect(bad.body.error.message).toContain('names a bucket, not an object');
    const url = `gs://${BUCKET}/${site.prefix}backup_completo_20200101_000000.zip`;
    const missing = await site.json('restore', url, '--db', 'main', '--force');
    expect(missing.status).toBe(1);
    expect(missing.body.error.code).toBe('RW_STORAGE_NOT_FOUND');
    expect(missing.body.error.message).toContain(url);
    expect(missing.body.error.message).toContain('no such object');
    expect(leftovers(site.backups)).toEqual([]);
  });

  it('backups import gs:// downloads, verifies and catalogs the archive with its copy confirmed; never overwrites', async () => {
    const first = machine();
    const made = await first.backup();
    const url = urlOf(first.prefix, made.file);
    const other = machine({ prefix: first.prefix });
    const imported = await other.json('backups', 'import', url);
    expect(imported.status, imported.stderr).toBe(0);
    const target = path.join(other.backups, path.basename(made.file));
    expect(imported.body).toMatchObject({
      file: target,
      imported: true,
      status: 'verified',
      sha256: (await first.json('backups', 'list')).body.backups[0].sha256,
      offsite: { object_name: url, generation: made.offsite?.generation },
    });
    expect(readFileSync(target).equals(readFileSync(made.file))).toBe(true);
    expect(leftovers(other.backups)).toEqual([]);
    const listed = await other.json('backups', 'list');
    expect(listed.body.backups[0]).toMatchObject({ file: target, offsite: { state: 'confirmed' } });
    expect((await other.json('backups', 'list', '--offsite')).body.archives[0].confirmed_for).toBe(target);

    const again = await other.json('backups', 'import', url);
    expect(again.status).toBe(1);
    expect(again.body.error.code).toBe('RW_BACKUP_EXISTS');
    expect(readFileSync(target).equals(readFileSync(made.file))).toBe(true);
  });

  it('the disaster case: a new machine with only the config and the bucket lists the archives and restores the data', async () => {
    const old = machine();
    const made = await old.backup();
    // A new machine: fresh state folder, empty backup folder, the app's data lost; same config.
    const fresh = machine({ prefix: old.prefix, data: false });
    expect(existsSync(path.join(fresh.root, 'state'))).toBe(false);
    const remote = await fresh.json('backups', 'list', '--offsite');
    expect(remote.status, remote.stderr).toBe(0);
    const url = urlOf(old.prefix, made.file);
    expect(remote.body.archives).toEqual([expect.objectContaining({ url, confirmed_for: null })]);

    const restored = await fresh.json('restore', url, '--db', 'main', '--no-backup');
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.body).toMatchObject({ archive: url, target: fresh.main, safety_copy: null });
    expect(labelsIn(fresh.main)).toEqual(['main 1', 'main 2']);
    const tenant = await fresh.json('restore', url, '--tenant', 'acme', '--no-backup');
    expect(tenant.status, tenant.stderr).toBe(0);
    expect(labelsIn(fresh.acme)).toEqual(['a1', 'a2', 'a3']);
    expect(leftovers(fresh.backups)).toEqual([]);
  });

  it('an encrypted copy: the bucket holds ciphertext; a new machine restores everything with --identity, and is told to pass it without', async () => {
    const { generateIdentity, identityToRecipient } = await import('age-encryption');
    const identity = await generateIdentity();
    const old = machine({ recipients: [await identityToRecipient(identity)] });
    const made = await old.backup();
    const url = `${urlOf(old.prefix, made.file)}.age`;
    expect(made.offsite).toMatchObject({ state: 'confirmed', object: url });
    const object = inBucket(url);
    expect(object?.metadata.encryption).toBe('age');

    const fresh = machine({ prefix: old.prefix, data: false });
    const identityFile = path.join(fresh.root, 'key.txt');
    writeFileSync(identityFile, `# test key\n${identity}\n`);
    const listed = await fresh.json('backups', 'list', '--offsite');
    expect(listed.body.archives).toEqual([expect.objectContaining({ url })]);

    const without = await fresh.cli('restore', url, '--all', '--no-backup');
    expect(without.status).toBe(2);
    expect(without.stderr).toContain('pass --identity FILE');
    expect(existsSync(fresh.main)).toBe(false);

    const restored = await fresh.json('restore', url, '--all', '--no-backup', '--identity', identityFile);
    expect(restored.status, restored.stderr).toBe(0);
    expect(labelsIn(fresh.main)).toEqual(['main 1', 'main 2']);
    expect(labelsIn(fresh.acme)).toEqual(['a1', 'a2', 'a3']);
    expect(readFileSync(path.join(fresh.root, 'data', 'media', 'logo.txt'), 'utf8')).toBe('logo');
    expect(leftovers(fresh.backups)).toEqual([]);

    const imported = await fresh.json('backups', 'import', url, '--identity', identityFile);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.body).toMatchObject({
      file: path.join(fresh.backups, path.basename(made.file)),
      sha256: createHash('sha256').update(readFileSync(made.file)).digest('hex'),
    });
  });
});
