import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledBackupJob } from '../src/app/backup-schedule.js';
import { createBackupService } from '../src/app/backup-service.js';
import { createOffsiteService, withOffsite } from '../src/app/offsite-service.js';
import { EventBus } from '../src/events/event-bus.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { exitWithin, spawnCli } from './helpers/cli.js';
import { PROCESS_START } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';

// The CLI test spawns the built CLI: run `npx tsc -p tsconfig.json` first (npm test does).
const BUCKET = 'prune-both-sides';
const signal = () => new AbortController().signal;
const KEEP_LAST = (n: number) => ({ keep_within: '0s', keep_last: n });

let playground: Playground;
let prefixes = 0;

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
});

afterAll(async () => {
  await playground?.stop();
});

const tempDir = useTempDir('runwarden-prune-both-');

/** The daemon's scheduled pass with off-site copies on: real backups, real uploads to the emulator. */
function daemonParts(dir: string) {
  makeDataDir(dir);
  const prefix = `app${++prefixes}/`;
  const config = withOffsite(
    backupConfigFor(dir, {
      retention: KEEP_LAST(1),
      offsite: { bucket: BUCKET, prefix, api_endpoint: playground.storage.url, retention: KEEP_LAST(2) },
    }),
  );
  if (!config) throw new Error('offsite config expected');
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  const deps = { config, store: () => store, events, logger: silentLogger };
  const backups = createBackupService(deps);
  const offsite = createOffsiteService(deps);
  const local = () => readdirSync(config.dir).filter((name) => name.endsWith('.zip'));
  const remote = () =>
    playground.storage
      .objects(BUCKET)
      .filter((object) => object.name.startsWith(prefix))
      .map((object) => object.name.slice(prefix.length))
      .sort();
  return { config, store, backups, offsite, local, remote, job: scheduledBackupJob(backups, offsite) };
}

describe('retention on both sides', () => {
  it('the scheduled pass prunes the bucket by its own policy after the local archives', async () => {
    const { job, offsite, local, remote, store } = daemonParts(tempDir());
    const taken: string[] = [];
    for (let pass = 0; pass < 4; pass++) {
      await job.runOnce(signal());
      taken.push(...local().filter((name) => !taken.includes(name)));
      expect((await offsite.uploader.drain(signal())).copied).toHaveLength(1);
    }
    // Local keeps 1; the bucket 2: the copies of archives pruned locally still count and go.
    await offsite.prune({ dryRun: false, signal: signal() });
    expect(local()).toEqual(taken.slice(3));
    expect(remote()).toEqual(taken.slice(2));
    store.close();
  });

  it('a failed remote prune fails the pass and undoes none of the local work', async () => {
    const { job, offsite, local, remote, store } = daemonParts(tempDir());
    await job.runOnce(signal());
    await offsite.uploader.drain(signal());
    playground.storage.injectFault({ operation: 'objects.list', bucket: BUCKET, status: 403 });
    await expect(job.runOnce(signal())).rejects.toMatchObject({ code: 'RW_STORAGE_DENIED' });
    expect(local()).toHaveLength(1); // the new backup, the confirmed older one pruned locally
    expect(remote()).toHaveLength(1);
    store.close();
  });
});

describe('runwarden backups prune --dry-run (CLI) with off-site copies', () => {
  it('shows the local plan, then the bucket plan, in text and under `remote` in JSON', async () => {
    const dir = tempDir();
    const { remote, store, config } = daemonParts(dir);
    const file = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      file,
      [
        'state_dir: ./state',
        'log:',
        '  level: warn',
        'backup:',
        '  sources:',
        '    data_dir: ./data',
        '  retention: { keep_within: 0s, keep_last: 1 }',
        '  offsite:',
        `    bucket: ${BUCKET}`,
        `    prefix: ${config.offsite.prefix}`,
        `    api_endpoint: ${playground.storage.url}`,
        '    retention: { keep_within: 0s, keep_last: 1 }',
        '',
      ].join('\n'),
    );
    store.close();
    // Spawned, not run synchronously: the emulator answers from this process's event loop.
    const cli = async (...args: string[]) => {
      const run = spawnCli([...args, '--config', file], { env: { METADATA_SERVER_DETECTION: 'none' } });
      const { code } = await exitWithin(run, PROCESS_START, `runwarden ${args.join(' ')}`);
      return { status: code, ...run.output };
    };
    for (let i = 0; i < 2; i++) expect((await cli('backup', '--json')).status).toBe(0);
    const catalog = Store.open(path.join(dir, 'state'));
    await createOffsiteService({
      config,
      store: () => catalog,
      events: new EventBus(),
      logger: silentLogger,
    }).uploader.drain(signal());
    catalog.close();
    const [older, newer] = remote();

    const json = await cli('backups', 'prune', '--dry-run', '--json');
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ policy: 'keep_last 1 (periods in UTC)', dry_run: true, deleted: [] });
    expect(result.decisions.map((d: { keep: boolean }) => d.keep)).toEqual([true, false]);
    expect(result.remote).toMatchObject({
      bucket: `gs://${BUCKET}/${config.offsite.prefix}`,
      policy: 'keep_last 1 (periods in UTC)',
      dry_run: true,
      retained: 2,
      deleted: [],
      ignored: 0,
    });
    expect(
      result.remote.decisions.map((d: { name: string; keep: boolean; confirmed: boolean }) => [
        d.name,
        d.keep,
        d.confirmed,
      ]),
    ).toEqual([
      [newer, true, true],
      [older, false, true],
    ]);

    const text = await cli('backups', 'prune', '--dry-run');
    expect(text.status).toBe(0);
    const [localPart, remotePart] = text.stdout.split(`bucket gs://${BUCKET}/`);
    expect(localPart).toContain('dry run: 1 to keep, 1 would be deleted; nothing was deleted');
    expect(remotePart).toMatch(new RegExp(`keep {2}.* {2}${newer} {2}last 1, newest confirmed`));
    expect(remotePart).toMatch(new RegExp(`delete {2}.* {2}${older}\\n`));
    expect(remotePart).toContain('dry run: 1 to keep, 1 would be deleted; nothing was deleted');
    expect(remote()).toEqual([older, newer]);
  });
});
