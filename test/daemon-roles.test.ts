import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { type Config, type ConfigInput, configSchema } from '../src/config/schema.js';
import { resolveBackupPaths } from '../src/config/schema/backup.js';
import { startPlayground } from '../src/playground/index.js';
import { knownGoodInStore } from './helpers/known-good.js';
import { BEARER, TOKEN } from './helpers/alerts-harness.js';
import { makeDataDir, silentLogger } from './helpers/backup.js';
import { daemonReady, spawnCli, runCli } from './helpers/cli.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';
import { fileURLToPath } from 'node:url';

// `role`: a daemon starts the jobs and serves the endpoints of its role only; the other role's
// endpoints answer 404 naming the role, and nothing of the other role is loaded.

const tempDir = useTempDir('runwarden-roles-');
const cleanups = useCleanups();
const PRELOAD = fileURLToPath(new URL('./helpers/loaded-packages.cjs', import.meta.url));

const SERVICE = {
  name: 'shop',
  project: 'roles-project',
  region: 'europe-west1',
  service: 'shop',
  poll_interval: '200ms',
  pre_deploy_backup: false,
  rules: [],
};

function configFor(dir: string, input: ConfigInput) {
  const config = configSchema.parse({
    state_dir: path.join(dir, 'state'),
    server: { address: '127.0.0.1:0' },
    backup: { dir: path.join(dir, 'backups'), sources: { data_dir: path.join(dir, 'data') } },
    alerts: { bearer_token: TOKEN },
    ...input,
  });
  resolveBackupPaths(config.backup, dir);
  return config;
}

async function start(
  input: ConfigInput,
  beforeStart: (config: Config) => void = () => {},
): Promise<{ daemon: RunningDaemon; base: string }> {
  const dir = tempDir();
  makeDataDir(dir);
  const config = configFor(dir, input);
  beforeStart(config);
  const daemon = await startDaemon(config, silentLogger);
  cleanups.push(async () => {
    await daemon.stop('test end');
  });
  return { daemon, base: `http://${daemon.address}` };
}

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: BEARER, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const isWatchJob = (name: string) => name.startsWith('watch:') || name.startsWith('guard:');
const BACKUP_JOBS = ['backup', 'drill', 'backup-disk-space'];

describe('daemon roles', () => {
  it('backup: backups, drills and POST /v1/backups; no deploy watch even with services, alert receivers 404', async () => {
    // The service's Cloud Run endpoint is a closed port: the backup role never calls it.
    const { daemon, base } = await start({
      role: 'backup',
      cloud_run: { endpoint: '127.0.0.1:1', insecure: true },
      monitoring: { endpoint: '127.0.0.1:1', insecure: true },
      services: [SERVICE],
    });
    const jobs = daemon.context.scheduler.scheduledJobs;
    expect(jobs).toEqual(expect.arrayContaining(BACKUP_JOBS));
    expect(jobs.filter(isWatchJob)).toEqual([]);
    for (const receiver of ['alertmanager', 'cloud-monitoring']) {
      const refused = await post(`${base}/v1/alerts/${receiver}`, {});
      expect(refused.status).toBe(404);
      expect(await refused.text()).toBe(
        'this runwarden runs in the backup role; the deploy watch is off here\n',
      );
    }
    const backup = await post(`${base}/v1/backups`, { reason: 'pre-deploy' });
    expect(backup.status, await backup.clone().text()).toBe(201);
    expect(daemon.context.store.backups.list()).toHaveLength(1);
    // Alert rules about backups and drills tell the roles apart by it.
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('runwarden_role_info{role="backup"} 1');
  });

  it('watch: the deploy watch and alert receivers; no backup job, POST /v1/backups and /startupz 404', async () => {
    const playground = await startPlayground(
      { project: 'roles-project', region: 'europe-west1', services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    cleanups.push(() => playground.stop());
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const { daemon, base } = await start(
      {
        role: 'watch',
        cloud_run: { endpoint, insecure: true },
        monitoring: { endpoint, insecure: true },
        services: [{ ...SERVICE, pre_deploy_backup: true }],
      },
      // What a watcher that ran before knows: first sight proves nothing (see Shared state).
      (config) => knownGoodInStore(config.state_dir, 'shop', playground.revisions('shop')[0]?.name as string),
    );
    const jobs = daemon.context.scheduler.scheduledJobs;
    expect(jobs.filter(isWatchJob).length).toBeGreaterThan(0);
    expect(jobs.filter((name) => BACKUP_JOBS.includes(name))).toEqual([]);
    const refused = await post(`${base}/v1/backups`, { reason: 'pre-deploy' });
    expect(refused.status).toBe(404);
    expect(await refused.text()).toBe('this runwarden runs in the watch role; backups are off here\n');
    const startup = await fetch(`${base}/startupz`);
    expect(startup.status).toBe(404);
    expect(await startup.text()).toContain('watch role; backups are off here');
    // The receiver is served: an unknown service is refused by the receiver, not by the role.
    const alert = await fetch(`${base}/v1/alerts/alertmanager`, { method: 'POST', body: '{}' });
    expect(alert.status).toBe(401);
    // A deploy is watched without a pre-deploy backup: the watcher cannot read the data (the
    // backup sidecar's start-up gate takes that backup).
    let backupsStarted = 0;
    daemon.context.events.on('backup:started', () => {
      backupsStarted++;
    });
    await waitFor(
      () => daemon.context.store.services.get('shop')?.stableRevision ?? undefined,
      'the baseline to be adopted',
      WORK_BACKSTOP,
    );
    await playground.deploy('shop', {});
    const point = await waitFor(
      () => daemon.context.store.watches.open('shop')?.restorePoint ?? undefined,
      'the new revision to be watched',
      WORK_BACKSTOP,
    );
    expect(point).toMatchObject({ source: 'none' });
    expect(point.note).toContain('this runwarden takes no backup (the watch role');
    expect(backupsStarted).toBe(0);
    expect(daemon.context.store.backups.list()).toEqual([]);
  });

  it('all (the default): both roles', async () => {
    const { daemon, base } = await start({});
    expect(daemon.context.config.role).toBe('all');
    expect(daemon.context.scheduler.scheduledJobs).toEqual(expect.arrayContaining(BACKUP_JOBS));
    const alert = await fetch(`${base}/v1/alerts/alertmanager`, { method: 'POST', body: '{}' });
    expect(alert.status).toBe(401);
    const backup = await fetch(`${base}/v1/backups`, { method: 'POST', body: '{}' });
    expect(backup.status).toBe(401);
  });
});

describe('daemon --role', () => {
  it('--role backup overrides the config and loads no Cloud Run or Monitoring client though services are configured', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      config,
      stringify({
        role: 'watch',
        state_dir: './state',
        server: { address: '127.0.0.1:0' },
        log: { format: 'json' },
        backup: { sources: { data_dir: './data' } },
        cloud_run: { endpoint: '127.0.0.1:1', insecure: true },
        monitoring: { endpoint: '127.0.0.1:1', insecure: true },
        services: [SERVICE],
      }),
    );
    const loaded = path.join(dir, 'loaded-packages.json');
    const daemon = spawnCli(['daemon', '--config', config, '--role', 'backup'], {
      env: { NODE_OPTIONS: `--require ${PRELOAD}`, LOADED_PACKAGES_OUT: loaded },
    });
    const address = await daemonReady(daemon);
    const ready = daemon.output.stdout
      .split('\n')
      .filter((line) => line.includes('runwarden daemon ready'))
      .map((line) => JSON.parse(line) as { role?: string });
    expect(ready[0]?.role).toBe('backup');
    const refused = await fetch(`http://${address}/v1/alerts/alertmanager`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(404);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code, daemon.output.stderr).toBe(0);
    const packages = JSON.parse(readFileSync(loaded, 'utf8')) as string[];
    expect(packages).toContain('better-sqlite3');
    expect(packages.filter((name) => /^@google-cloud\/(run|monitoring)$|^google-gax$/.test(name))).toEqual(
      [],
    );
  });

  it('refuses a role it does not know, naming the choices', () => {
    const result = runCli(['daemon', '--role', 'sidecar'], { cwd: tempDir() });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("'sidecar' is invalid");
    expect(result.stderr).toContain('all, backup, watch');
  });
});
