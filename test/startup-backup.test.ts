import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifestDigest } from '../src/archive/manifest-read.js';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, type ConfigInput, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { plus, waitFor } from './helpers/wait.js';

// The backup sidecar's start-up gate: /startupz (the Cloud Run startup probe the app container
// depends on) answers 200 only once this revision's data is backed up and its copy confirmed in
// the bucket, which is the catalog every sidecar reads. Real @google-cloud/storage client against
// the playground's storage emulator.

const BUCKET = 'startup-gate';
const tempDir = useTempDir('runwarden-startup-');
const cleanups = useCleanups();

async function playground(): Promise<Playground> {
  const started = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
  cleanups.push(() => started.stop());
  return started;
}

/**
 * A sidecar of one instance: the data and backup folders are the shared volume (`shared`, NFS in
 * production); state_dir is the instance's own.
 */
function sidecarConfig(shared: string, storage: Playground['storage'], input: ConfigInput = {}): Config {
  const config = configSchema.parse({
    role: 'backup',
    state_dir: path.join(tempDir(), 'state'),
    server: { address: '127.0.0.1:0' },
    ...input,
    backup: {
      enabled: false,
      dir: path.join(shared, 'backups'),
      sources: { data_dir: path.join(shared, 'data') },
      offsite: { bucket: BUCKET, api_endpoint: storage.url, upload_timeout: '60s' },
      ...(input.backup as object),
    },
  });
  resolveBackupPaths(config.backup, shared);
  return config;
}

async function start(config: Config, revision?: string): Promise<RunningDaemon> {
  const daemon = await startDaemon(config, silentLogger, revision ? { revision } : {});
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return daemon;
}

async function startupz(daemon: RunningDaemon): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${daemon.address}/startupz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls /startupz until it answers 200; returns every phase it answered on the way. */
async function startedWithin(daemon: RunningDaemon, config: Config): Promise<string[]> {
  const phases: string[] = [];
  await waitFor(
    async () => {
      const { status, body } = await startupz(daemon);
      phases.push(String(body.phase));
      return status === 200 ? true : undefined;
    },
    'the sidecar to report started',
    plus(WORK_BACKSTOP, {
      ms: config.backup.offsite?.upload_timeout ?? 0,
      basis: 'backup.offsite.upload_timeout',
    }),
  );
  return phases;
}

const revisionsInBucket = (storage: Playground['storage']) =>
  storage
    .objects(BUCKET)
    .map((object) => object.metadata.cloud_run_revision)
    .sort();

describe('start-up gate (backup.before_start: auto)', () => {
  it('a new revision backs up and copies off-site before it reports started; its other instances start at once', async () => {
    const { storage } = await playground();
    const shared = tempDir();
    makeDataDir(shared);
    // The upload is slow: the probe is seen failing while the copy is on its way.
    storage.injectFault({ operation: 'objects.insert', bucket: BUCKET, delayMs: 1_500 });

    const first = sidecarConfig(shared, storage);
    const sidecar = await start(first, 'shop-00001-abc');
    const phases = await startedWithin(sidecar, first);
    expect(phases.at(-1)).toBe('started');
    expect(phases).toContain('copying');
    // When it said started, the archive was in the bucket, naming its revision.
    expect(revisionsInBucket(storage)).toEqual(['shop-00001-abc']);
    const [record] = sidecar.context.store.backups.list();
    expect(record).toMatchObject({ reason: 'pre-deploy', trigger: 'startup' });
    expect(record?.offsite?.confirmedAt).toBeTruthy();
    const manifest = (await readManifestDigest(record?.file as string)).manifest;
    expect(manifest.revision).toBe('shop-00001-abc');
    const body = (await startupz(sidecar)).body;
    expect(body.why).toContain('no archive yet; revision shop-00001-abc starts');

    // A second instance of the same revision: the bucket says its revision is backed up.
    const second = await start(sidecarConfig(shared, storage), 'shop-00001-abc');
    await waitFor(
      async () => ((await startupz(second)).status === 200 ? true : undefined),
      'the second instance to report started',
      WORK_BACKSTOP,
    );
    expect((await startupz(second)).body.why).toMatch(/was taken by revision shop-00001-abc$/);
    expect(second.context.store.backups.list()).toEqual([]);
    expect(storage.objects(BUCKET)).toHaveLength(1);

    // The next revision's first instance backs up again.
    const third = sidecarConfig(shared, storage);
    const next = await start(third, 'shop-00002-def');
    await startedWithin(next, third);
    expect((await startupz(next)).body.why).toContain(
      'was taken by revision shop-00001-abc; revision shop-00002-def starts',
    );
    expect(revisionsInBucket(storage)).toEqual(['shop-00001-abc', 'shop-00002-def']);
  });

  it('a copy the bucket refuses keeps the probe failing, saying why', async () => {
    const { storage } = await playground();
    const shared = tempDir();
    makeDataDir(shared);
    storage.injectFault({ operation: 'objects.insert', bucket: BUCKET, status: 403, times: 1_000 });
    const sidecar = await start(sidecarConfig(shared, storage), 'shop-00001-abc');
    const answer = await waitFor(
      async () => {
        const { status, body } = await startupz(sidecar);
        return body.phase === 'copying' && body.error ? { status, body } : undefined;
      },
      'the refused copy to show on /startupz',
      WORK_BACKSTOP,
    );
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ started: false, phase: 'copying' });
    expect(String(answer.body.error)).toContain('RW_STORAGE_DENIED');
    // The backup itself was taken; only its copy is missing.
    expect(sidecar.context.store.backups.list()).toHaveLength(1);
    expect(storage.objects(BUCKET)).toEqual([]);
  });

  it('a first deploy whose databases do not exist yet starts: nothing to back up; later a missing source keeps it waiting', async () => {
    const { storage } = await playground();
    const empty = tempDir();
    const first = await start(sidecarConfig(empty, storage), 'shop-00001-abc');
    await waitFor(
      async () => ((await startupz(first)).status === 200 ? true : undefined),
      'the first revision to report started',
      WORK_BACKSTOP,
    );
    const { body } = await startupz(first);
    expect(body.why).toMatch(
      /^no archive yet; revision shop-00001-abc starts; nothing to back up yet \(backup source /,
    );
    expect(storage.objects(BUCKET)).toEqual([]);

    // Once the bucket holds an archive, a missing source is a fault (a volume not mounted?): the
    // probe keeps failing rather than letting a migration run on data that is not there.
    const shared = tempDir();
    makeDataDir(shared);
    await startedWithin(
      await start(sidecarConfig(shared, storage), 'shop-00001-abc'),
      sidecarConfig(shared, storage),
    );
    const gone = await start(sidecarConfig(tempDir(), storage), 'shop-00002-def');
    const waiting = await waitFor(
      async () => {
        const answer = await startupz(gone);
        return answer.body.error ? answer : undefined;
      },
      'the missing source to show on /startupz',
      WORK_BACKSTOP,
    );
    expect(waiting.status).toBe(503);
    expect(String(waiting.body.error)).toContain('backup source');
  });

  it('outside Cloud Run (no K_REVISION) it reports started at once and takes no backup', async () => {
    const { storage } = await playground();
    const shared = tempDir();
    makeDataDir(shared);
    const daemon = await start(sidecarConfig(shared, storage));
    const answer = await startupz(daemon);
    expect(answer).toEqual({
      status: 200,
      body: { started: true, phase: 'started', why: 'not in a Cloud Run revision (K_REVISION unset)' },
    });
    expect(storage.objects(BUCKET)).toEqual([]);
  });

  it('always: backs up at every start, even when the bucket has this revision; never: at once', async () => {
    const { storage } = await playground();
    const shared = tempDir();
    makeDataDir(shared);
    const always = sidecarConfig(shared, storage, { backup: { before_start: 'always' } });
    await startedWithin(await start(always), always);
    expect(storage.objects(BUCKET)).toHaveLength(1);
    const never = await start(
      sidecarConfig(shared, storage, { backup: { before_start: 'never' } }),
      'shop-00009',
    );
    expect((await startupz(never)).status).toBe(200);
    expect(storage.objects(BUCKET)).toHaveLength(1);
  });

  it('without off-site copies it reads the local catalog: a restart in the same revision starts at once', async () => {
    const shared = tempDir();
    makeDataDir(shared);
    const config = configSchema.parse({
      role: 'backup',
      state_dir: path.join(shared, 'state'),
      server: { address: '127.0.0.1:0' },
      backup: {
        enabled: false,
        dir: path.join(shared, 'backups'),
        sources: { data_dir: path.join(shared, 'data') },
      },
    });
    resolveBackupPaths(config.backup, shared);
    const daemon = await start(config, 'shop-00001');
    await startedWithin(daemon, config);
    expect(daemon.context.store.backups.list()).toHaveLength(1);
    await daemon.stop('restart');
    const again = await start(config, 'shop-00001');
    await waitFor(
      async () => ((await startupz(again)).status === 200 ? true : undefined),
      'the restarted sidecar to report started',
      WORK_BACKSTOP,
    );
    expect(again.context.store.backups.list()).toHaveLength(1);
  });
});
