import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createBackupService } from '../src/app/backup-service.js';
import { EventBus } from '../src/events/event-bus.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { daemonReady, spawnCli, waitForPoint } from './helpers/cli.js';
import { useCleanups, useTempDir } from './helpers/temp.js';

const BUCKET = 'offsite-kill';
/** Above the store's default resumable threshold (8 MiB): the copy is a chunked, resumable upload. */
const MEDIA_BYTES = 12 * 1024 * 1024;

let playground: Playground;

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
});

afterAll(async () => {
  await playground?.stop();
});

const tempDir = useTempDir('runwarden-offsite-kill-');
const cleanups = useCleanups();

/** A site with incompressible media, one verified backup cataloged, and a daemon config copying off-site. */
async function siteWithBacklog() {
  const dir = tempDir();
  makeDataDir(dir, { media: { 'video.bin': randomBytes(MEDIA_BYTES) } });
  const offsite = { bucket: BUCKET, prefix: 'kill/', api_endpoint: playground.storage.url };
  const state = path.join(dir, 'state');
  const store = Store.open(state);
  try {
    const backups = createBackupService({
      config: backupConfigFor(dir, { offsite }),
      store: () => store,
      events: new EventBus(),
      logger: silentLogger,
    });
    const { file } = await backups.run({ reason: 'manual', trigger: 'cli' });
    const config = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      config,
      stringify({
        state_dir: './state',
        server: { address: '127.0.0.1:0' },
        log: { format: 'json', level: 'info' },
        backup: { enabled: false, dir: './backups', sources: { data_dir: './data' }, offsite },
      }),
    );
    return { config, file, state, objectName: `kill/${path.basename(file)}` };
  } finally {
    store.close();
  }
}

function startDaemon(config: string) {
  const run = spawnCli(['daemon', '--config', config]);
  cleanups.push(async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
  });
  return run;
}

/** The catalog's record of the archive's copy, read as another process would (the daemon holds it). */
function offsiteRow(state: string, file: string) {
  const db = new Database(path.join(state, 'runwarden.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT offsite_object, offsite_generation, offsite_confirmed_at FROM backups WHERE file = ?')
      .get(file) as
      | {
          offsite_object: string | null;
          offsite_generation: number | null;
          offsite_confirmed_at: string | null;
        }
      | undefined;
  } finally {
    db.close();
  }
}

describe('kill -9 in the middle of an off-site upload', () => {
  it('leaves no object that looks complete, and the next start uploads it whole and confirms it', async () => {
    const { config, file, state, objectName } = await siteWithBacklog();
    // The first chunk of the upload hangs in the bucket: the daemon is caught mid-upload.
    playground.storage.injectFault({ operation: 'objects.upload', bucket: BUCKET, delayMs: 600_000 });
    const first = startDaemon(config);
    await daemonReady(first);
    await waitForPoint(
      first,
      () => (playground.storage.pendingFaults().faults.length === 0 ? true : undefined),
      'the upload to reach the bucket',
    );

    first.child.kill('SIGKILL');
    await first.exited;
    playground.storage.clearFaults();

    const named = () => playground.storage.objects(BUCKET).filter((object) => object.name === objectName);
    expect(named()).toEqual([]);
    expect(offsiteRow(state, file)?.offsite_confirmed_at).toBeNull();

    const second = startDaemon(config);
    await daemonReady(second);
    const confirmed = await waitForPoint(
      second,
      () => {
        const row = offsiteRow(state, file);
        return row?.offsite_confirmed_at ? row : undefined;
      },
      'the copy to be confirmed after the restart',
    );
    const [object] = named();
    expect(confirmed).toMatchObject({
      offsite_object: `gs://${BUCKET}/${objectName}`,
      offsite_generation: object?.generation,
    });
    expect(object?.size).toBe(readFileSync(file).length);
    expect(object?.metadata.archive_sha256).toBe(
      createHash('sha256').update(readFileSync(file)).digest('hex'),
    );
  });
});
