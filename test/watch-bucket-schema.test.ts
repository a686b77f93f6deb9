import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, type ConfigInput, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { isArchiveFingerprint } from '../src/core/schema-change.js';
import type { RollbackRefusedEvent } from '../src/events/watch-events.js';
import { startPlayground } from '../src/playground/index.js';
import { alertmanagerPayload, BEARER, TOKEN } from './helpers/alerts-harness.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { spawnCli } from './helpers/cli.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { knownGoodInStore } from './helpers/known-good.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

// The watcher cannot open the app's databases: its restore points and schema drift come from the
// archives the backup sidecars copied to the bucket, read from each archive's manifest.

const BUCKET = 'app-backups';
const PROJECT = 'schema-project';
const tempDir = useTempDir('runwarden-bucket-schema-');
const cleanups = useCleanups();

type Offsite = NonNullable<NonNullable<ConfigInput['backup']>['offsite']>;

/**
 * A daemon of `role` on the shared bucket, its config written to `<dir>/runwarden.yaml` (for the
 * CLI) and parsed: its own state, the test's alert token, no scheduled backup, data from `dataDir`.
 */
function configure(
  dir: string,
  role: 'backup' | 'watch',
  dataDir: string,
  offsite: Offsite,
  extra: ConfigInput = {},
) {
  const input: ConfigInput = {
    role,
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    alerts: { bearer_token: TOKEN },
    backup: { enabled: false, dir: path.join(dir, 'backups'), sources: { data_dir: dataDir }, offsite },
    ...extra,
  };
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(file, stringify(input));
  const config = configSchema.parse(input);
  resolveBackupPaths(config.backup, dir);
  return { config, file };
}

/** Starts a daemon, stopped at the test's end; `revision` is its K_REVISION (a sidecar's). */
async function start(config: Config, revision?: string): Promise<RunningDaemon> {
  const daemon = await startDaemon(config, silentLogger, revision ? { revision } : {});
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return daemon;
}

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: BEARER, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** The newest manifest the watcher has read (its schema "now"), by archive URL. */
async function schemaSeenBy(watcher: RunningDaemon): Promise<string | undefined> {
  const fingerprint = (await watcher.context.app.watch()).live.of('shop').fingerprint;
  return fingerprint && isArchiveFingerprint(fingerprint) ? fingerprint.archive.url : undefined;
}

describe('the watch role: restore points and schema drift from the bucket', () => {
  it("names the bucket's archive as the restore point and refuses a rollback over a schema change it read there", async () => {
    const playground = await startPlayground(
      { project: PROJECT, region: 'europe-west1', services: [{ name: 'shop' }], buckets: [BUCKET] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    cleanups.push(() => playground.stop());
    const stable = playground.revisions('shop')[0]?.name as string;
    const offsite = { bucket: BUCKET, api_endpoint: playground.storage.url, upload_timeout: '60s' };
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;

    // The backup sidecar: it reads the data, backs up before reporting started, copies to the bucket.
    const sidecarDir = tempDir();
    const data = makeDataDir(sidecarDir, { tenants: ['acme', 'globex'] });
    const sidecar = await start(configure(sidecarDir, 'backup', data, offsite).config, stable);
    const archives = () =>
      playground.storage
        .objects(BUCKET)
        .map((object) => `gs://${BUCKET}/${object.name}`)
        .sort();
    const [before] = await waitFor(
      () => (archives().length === 1 ? archives() : undefined),
      'the sidecar to copy its start-up backup to the bucket',
      WORK_BACKSTOP,
    );

    // The watcher: no data of its own (its data_dir does not exist), the same bucket.
    const watcherDir = tempDir();
    const watcherSetup = configure(watcherDir, 'watch', path.join(watcherDir, 'none'), offsite, {
      cloud_run: { endpoint, insecure: true },
      monitoring: { endpoint, insecure: true },
      services: [
        {
          name: 'shop',
          project: PROJECT,
          region: 'europe-west1',
          service: 'shop',
          poll_interval: '200ms',
          probe_interval: '1s',
          rules: [],
          on_schema_change: 'alert',
        },
      ],
    });
    knownGoodInStore(watcherSetup.config.state_dir, 'shop', stable);
    const watcher = await start(watcherSetup.config);
    await waitFor(
      async () => ((await schemaSeenBy(watcher)) === before ? true : undefined),
      "the watcher to read the archive's manifest",
      WORK_BACKSTOP,
    );

    // A deploy: its restore point is the newest archive in the bucket, by URL, with its schemas.
    await playground.deploy('shop', {});
    const point = await waitFor(
      () => watcher.context.store.watches.open('shop')?.restorePoint ?? undefined,
      'the new revision to be watched',
      WORK_BACKSTOP,
    );
    expect(point).toMatchObject({ source: 'bucket', backup: before });
    expect(point.note).toContain('newest archive in the bucket');

    // The new revision's migrations change the main database and one tenant's; a later backup
    // records it.
    for (const [file, sql] of [
      [
        path.join(data, 'db.sqlite3'),
        'CREATE TABLE orders_v2 (id INTEGER PRIMARY KEY); PRAGMA user_version = 7;',
      ],
      [path.join(data, 'tenants', 'globex.sqlite3'), 'CREATE TABLE invoices (id INTEGER PRIMARY KEY);'],
    ] as const) {
      const db = new Database(file);
      db.exec(sql);
      db.close();
    }
    const backedUp = await post(`http://${sidecar.address}/v1/backups`, { reason: 'manual' });
    expect(backedUp.status, await backedUp.clone().text()).toBe(201);
    const after = await waitFor(
      () => archives().find((url) => url !== before),
      'the second archive to reach the bucket',
      WORK_BACKSTOP,
    );
    await waitFor(
      async () => ((await schemaSeenBy(watcher)) === after ? true : undefined),
      "the watcher to read the new archive's manifest",
      WORK_BACKSTOP,
    );

    // An alert asks for a rollback: old code on the migrated data would be worse, so it is refused,
    // naming what changed and the restore to pair with a rollback by hand.
    const serving = playground.traffic('shop');
    const refused = watcher.context.events.next('rollback:refused');
    const alert = await post(
      `http://${watcher.address}/v1/alerts/alertmanager`,
      alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]),
    );
    expect(alert.status).toBe(200);
    const event = (await refused) as RollbackRefusedEvent;
    expect(event.refusal).toBe('schema_changed');
    const reason = event.reason;
    expect(reason).toContain(`as of ${after}`);
    expect(reason).toContain('tenants changed: globex');
    expect(reason).toContain(
      'main database: definitions changed (sqlite_master differs), user_version 0 -> 7',
    );
    expect(reason).toContain(`runwarden restore ${before} --all`);
    expect(playground.traffic('shop')).toEqual(serving);

    // `status` on the watcher's config reads the same: drift from the bucket, not from files it lacks.
    // (Spawned, not run synchronously: the emulator answering it lives in this process.)
    const status = spawnCli(['status', '--json', '--config', watcherSetup.file], { cwd: watcherDir });
    expect((await status.exited).code, status.output.stderr).toBe(0);
    const shop = (JSON.parse(status.output.stdout) as { services: Array<Record<string, unknown>> })
      .services[0];
    expect(shop?.schema_drift, status.output.stdout).toMatchObject({ changed: true, tenants: ['globex'] });
  });
});
