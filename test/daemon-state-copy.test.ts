import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { STATE_COPY_OBJECT } from '../src/app/state-copy.js';
import { type Config, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { encodeStateCopy } from '../src/core/state-copy.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import { Store } from '../src/store/store.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

// The daemon's wiring of the shared state copy (`cluster` set, the sole leader while no lease runs),
// with the real @google-cloud/storage client on the playground's storage emulator.

const BUCKET = 'cluster-state';
const PREFIX = 'runwarden/cluster/';
const tempDir = useTempDir('runwarden-daemon-state-copy-');
const cleanups = useCleanups();

async function playground(): Promise<Playground> {
  const started = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
  cleanups.push(() => started.stop());
  return started;
}

function configFor(dir: string, storage: Playground['storage']): Config {
  makeDataDir(dir);
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: path.join(dir, 'data') } },
    cluster: { bucket: BUCKET, api_endpoint: storage.url, state_copy_delay: '200ms' },
  });
  resolveBackupPaths(config.backup, dir);
  return config;
}

async function scrape(daemon: RunningDaemon, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('the daemon with `cluster`', () => {
  it('restores the decision state from the bucket before it starts its jobs, then copies its changes', async () => {
    const emulator = await playground();
    const objects = await openGcsObjectStore({
      bucket: BUCKET,
      prefix: PREFIX,
      apiEndpoint: emulator.storage.url,
    });
    // Another watcher's copy: shop frozen there.
    const other = Store.open(tempDir());
    other.services.setFrozen('shop', true, 'frozen on the other host', 1_000);
    const theirs = await objects.write(
      STATE_COPY_OBJECT,
      encodeStateCopy(
        { schemaVersion: other.schemaVersion, writtenAt: Date.now(), holder: 'host-a:1', runwarden: 'test' },
        other.sharedSnapshot(),
      ),
      { ifGenerationMatch: 0 },
      AbortSignal.timeout(30_000),
    );
    other.close();

    const daemon = await startDaemon(configFor(tempDir(), emulator.storage), silentLogger);
    cleanups.push(async () => {
      await daemon.stop('test end');
    });
    const { store } = daemon.context;
    expect(store.memory('shop')).toMatchObject({ frozen: true });
    expect(store.copyMark).toMatchObject({ generation: theirs.generation, holder: 'host-a:1' });
    expect(await scrape(daemon, 'runwarden_state_restores_total')).toBe(1);

    store.services.setFrozen('shop', false, null, Date.now());
    const copied = await waitFor(
      async () => {
        const info = await objects.stat(STATE_COPY_OBJECT, AbortSignal.timeout(30_000));
        return info && info.generation !== theirs.generation ? info : undefined;
      },
      'the daemon to copy the unfreeze',
      {
        ms: SLOWDOWN * 250 + 10_000,
        basis: 'state_copy_delay 200 ms + a look every 50 ms, x SLOWDOWN, + 10 s for the write',
      },
      { every: 100 },
    );
    expect(copied.metadata).toMatchObject({ schema_version: String(store.schemaVersion) });
    expect(await scrape(daemon, 'runwarden_state_copy_last_timestamp_seconds')).toBeGreaterThan(0);
  });
});
