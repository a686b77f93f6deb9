import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RegionPolls } from '../src/watch/region-polls.js';
import { GrpcCloudRun } from '../src/cloudrun/grpc-cloud-run.js';
import { loadConfig } from '../src/config/load.js';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { configCheckJob } from '../src/app/config-check.js';
import { EventBus } from '../src/events/event-bus.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { makeDataDir } from './helpers/backup.js';
import { repeatedKeys } from './helpers/json-keys.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-config-check-');

interface LogLine {
  level: string;
  component: string;
  message: string;
  kind?: string;
  subject?: string;
  problem?: string;
}

describe('the daemon checks its configuration at start', () => {
  let playground: Playground;
  const running: RunningDaemon[] = [];

  beforeAll(async () => {
    playground = await startPlayground({
      project: 'demo-project',
      region: 'europe-west1',
      services: [{ name: 'shop' }],
    });
  });
  afterEach(async () => {
    for (const daemon of running.splice(0)) await daemon.stop('test end');
  });
  afterAll(async () => {
    await playground?.stop();
  });

  /** Starts the daemon in `dir` with `services` (Cloud Run names) and scheduled backups of `./data`. */
  async function start(dir: string, services: string[]) {
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const file = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      file,
      stringify({
        state_dir: './state',
        server: { address: '127.0.0.1:0' },
        backup: { dir: './backups', sources: { data_dir: './data' } },
        cloud_run: { endpoint, insecure: true, retry_deadline: '2s' },
        monitoring: { endpoint, insecure: true },
        services: services.map((service) => ({
          project: playground.project,
          region: playground.region,
          service,
        })),
      }),
    );
    const { config } = loadConfig({ path: file, env: {} });
    const { raw, logger } = capture();
    const daemon = await startDaemon(config, logger);
    running.push(daemon);
    const checked = await daemon.context.events.next('config:checked');
    const metrics = await (await fetch(`http://${daemon.address}/metrics`)).text();
    const gauge = (kind: string) =>
      Number(metrics.match(new RegExp(`^runwarden_config_problems\\{kind="${kind}"\\} (\\d+)$`, 'm'))?.[1]);
    return { daemon, checked, raw, lines: raw.map((line) => JSON.parse(line) as LogLine), gauge };
  }

  it('logs one warning per missing backup source and unreadable service, and counts them by kind', async () => {
    const dir = tempDir();
    const { checked, lines, raw, gauge } = await start(dir, ['shop', 'ghost']);

    const warnings = lines.filter((line) => line.message === 'configuration problem');
    expect(warnings.every((line) => line.level === 'warn' && line.component === 'config-check')).toBe(true);
    expect(warnings.map((line) => `${line.kind} ${line.subject}`).sort()).toEqual([
      'backup_source main_db',
      'backup_source media',
      'backup_source tenants',
      'service ghost',
    ]);
    const problem = (subject: string) => warnings.find((line) => line.subject === subject)?.problem;
    expect(problem('main_db')).toContain(`${path.join(dir, 'data', 'db.sqlite3')} does not exist`);
    expect(problem('tenants')).toContain(path.join(dir, 'data', 'tenants'));
    expect(problem('media')).toContain(`folder ${path.join(dir, 'data', 'media')} does not exist`);
    expect(problem('ghost')).toContain(
      'service ghost (demo-project/europe-west1/ghost) cannot be read from Cloud Run',
    );
    expect(checked.problems).toHaveLength(4);
    expect([gauge('backup_source'), gauge('service'), gauge('backup_dir')]).toEqual([3, 1, 0]);
    for (const line of raw) expect(repeatedKeys(line), line).toEqual([]);
  });

  it('finds nothing wrong with a healthy configuration, and says so once', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    const { checked, lines, gauge } = await start(dir, ['shop']);
    expect(checked.problems).toEqual([]);
    expect(lines.filter((line) => line.level === 'warn' && line.component === 'config-check')).toEqual([]);
    expect(lines.filter((line) => line.message === 'configuration checked')).toHaveLength(1);
    expect([gauge('backup_source'), gauge('service'), gauge('backup_dir')]).toEqual([0, 0, 0]);
  });

  it('a backup folder that cannot be created is a problem of its own', async () => {
    const dir = tempDir();
    makeDataDir(dir);
    // A file where the backup folder's parent should be: the folder can never be made.
    writeFileSync(path.join(dir, 'backups'), 'not a folder');
    const { checked, gauge } = await start(dir, []);
    expect(checked.problems).toEqual([
      expect.objectContaining({ kind: 'backup_dir', subject: 'backup.dir' }),
    ]);
    expect(checked.problems[0]?.message).toContain(`backup.dir ${path.join(dir, 'backups')}`);
    expect(gauge('backup_dir')).toBe(1);
  });

  it('reports a problem fixed since the last check as resolved, and its gauge drops to 0', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'runwarden.yaml');
    writeFileSync(file, stringify({ state_dir: './state', backup: { sources: { data_dir: './data' } } }));
    const { config } = loadConfig({ path: file, env: {} });
    const { raw, logger } = capture();
    const metrics = createMetrics();
    const job = configCheckJob(
      { config, logger, metrics, events: new EventBus() },
      {
        regions: new RegionPolls(new GrpcCloudRun(config.cloud_run), Date.now, {
          throttled: () => {},
          recovered: () => {},
          listDenied: () => {},
        }),
        services: [],
      },
    );
    const count = async () =>
      (await metrics.config.problems.get()).values.find((value) => value.labels.kind === 'backup_source')
        ?.value;
    const signal = new AbortController().signal;

    await job.runOnce(signal);
    expect(await count()).toBe(3);
    await job.runOnce(signal);
    makeDataDir(dir);
    await job.runOnce(signal);
    expect(await count()).toBe(0);
    const lines = raw.map((line) => JSON.parse(line) as LogLine);
    // Found again by the second run: not logged again. Gone by the third: logged as resolved, once.
    expect(lines.filter((line) => line.message === 'configuration problem')).toHaveLength(3);
    expect(
      lines
        .filter((line) => line.message === 'configuration problem resolved')
        .map((line) => line.subject)
        .sort(),
    ).toEqual(['main_db', 'media', 'tenants']);
  });
});

function capture() {
  const raw: string[] = [];
  const logger = createLogger({
    format: 'json',
    destination: new Writable({
      write: (chunk, _encoding, done) => {
        raw.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    }),
  });
  return { raw, logger };
}
