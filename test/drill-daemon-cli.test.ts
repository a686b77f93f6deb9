import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { removeLeftovers } from '../src/backup/leftovers.js';
import { loadConfig } from '../src/config/load.js';
import type { RunwardenEvents } from '../src/events/event-bus.js';
import { PAUSE_ENV } from '../src/restore/restore-pause.js';
import { readManifestDigest } from '../src/archive/manifest-read.js';
import { Store } from '../src/store/store.js';
import { catalogedFixture, entriesOf, recordFacts } from './helpers/drill.js';
import { makeDataDir, silentLogger, writeBackupConfigFile } from './helpers/backup.js';
import { runCli, spawnCli, waitFor } from './helpers/cli.js';
import { PROCESS_START, WORK_BACKSTOP } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { plus } from './helpers/wait.js';

const tempDir = useTempDir('runwarden-drill-');

/** A data folder, a config file (drills every second when `drill` says so) and one CLI backup. */
function site(backup: Record<string, unknown> = {}) {
  const dir = tempDir();
  const data = makeDataDir(dir);
  const config = writeBackupConfigFile(dir, { dir: './backups', ...backup });
  const taken = runCli(['backup', '--config', config, '--json']);
  expect(taken.status, taken.stderr).toBe(0);
  return { dir, data, config };
}

describe('backup.drill in the daemon', () => {
  const running: RunningDaemon[] = [];
  afterEach(async () => {
    for (const daemon of running.splice(0)) await daemon.stop('test end');
  });

  it('runs on its schedule through the scheduler, and the drill metrics move', async () => {
    const { config: file } = site({
      // Backups far away; a drill each second (the optional seconds field).
      schedule: '0 3 1 1 *',
      drill: { schedule: '* * * * * *' },
    });
    const { config } = loadConfig({ path: file, env: {} });
    config.server.address = '127.0.0.1:0';
    const daemon = await startDaemon(config, silentLogger);
    running.push(daemon);
    const completed: RunwardenEvents['drill:completed'][] = [];
    daemon.context.events.on('drill:completed', (event) => completed.push(event));
    await waitFor(
      () => (completed.length > 0 ? true : undefined),
      'a scheduled drill to complete',
      plus({ ms: 1000, basis: 'drill schedule: every second' }, WORK_BACKSTOP),
    );
    expect(completed[0]).toMatchObject({ trigger: 'schedule', checks: 'full', databases: 3 });
    const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
    expect(text).toMatch(/^runwarden_drill_runs_total\{result="completed"\} [1-9]/m);
    const last = Number(/^runwarden_drill_last_success_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(last).toBe((completed[0] as { finishedAt: number }).finishedAt / 1000);
    expect(text).toMatch(/^runwarden_drill_duration_seconds_count [1-9]/m);
    expect(text).toMatch(/^runwarden_drill_last_failure_timestamp_seconds 0$/m);
  });

  it('defaults to weekly (Sundays 04:30 in backup.timezone), and a bad cron is refused naming the option', () => {
    const { config: file } = site();
    expect(loadConfig({ path: file, env: {} }).config.backup.drill).toEqual({
      enabled: true,
      schedule: '30 4 * * 0',
    });
    const bad = writeBackupConfigFile(path.dirname(file), { drill: { schedule: 'weekly' } });
    let problems: readonly string[] = [];
    try {
      loadConfig({ path: bad, env: {} });
    } catch (error) {
      problems = (error as { problems: readonly string[] }).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(
        /^backup\.drill\.schedule: expected a cron expression like "0 3 \* \* \*", got "weekly"/,
      ),
    ]);
  });
});

describe('runwarden backups drill', () => {
  it('--json: exit 0 with each database, the media and full checks; nothing left beside the data', () => {
    const { data, config } = site();
    const before = readdirSync(data).sort();
    const result = runCli(['backups', 'drill', '--config', config, '--json']);
    expect(result.status, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({ ok: true, checks: 'full', problems: [], media: { files: 1 } });
    expect(outcome.databases.map((database: { label: string }) => database.label)).toEqual([
      'main database',
      'tenant acme',
      'tenant globex',
    ]);
    expect(existsSync(outcome.folder)).toBe(false);
    expect(readdirSync(data).sort()).toEqual(before);
  });

  it('exits 1 naming the tenant and table whose row count differs from the manifest', async () => {
    const { dir, data, config } = site();
    const backups = path.join(dir, 'backups');
    const store = Store.open(path.join(dir, 'state'));
    try {
      const newest = store.backups.list()[0] as { file: string };
      const { manifest } = await readManifestDigest(newest.file);
      const entries = entriesOf(data, manifest);
      await catalogedFixture({ dir: backups }, store, entries, (tampered) => {
        recordFacts(dir, entries, tampered);
        const acme = tampered.databases.find((database) => database.entry === 'tenants/acme.sqlite3');
        (acme?.tables as Record<string, number>).t = 121;
      });
    } finally {
      store.close();
    }
    const json = runCli(['backups', 'drill', '--config', config, '--json']);
    expect(json.status).toBe(1);
    const outcome = JSON.parse(json.stdout);
    expect(outcome.error).toEqual({
      code: 'RW_DRILL_FAILED',
      message: 'restore drill failed: tenant acme: table t has 3 rows, the manifest says 121',
    });
    expect(outcome.problems).toEqual(['tenant acme: table t has 3 rows, the manifest says 121']);
    const human = runCli(['backups', 'drill', '--config', config]);
    expect(human.status).toBe(1);
    expect(human.stdout).toContain('DRILL FAILED');
    expect(human.stdout).toContain('- tenant acme: table t has 3 rows, the manifest says 121');
  });

  it('exits 1 with RW_DRILL_NO_ARCHIVE when there is no verified archive', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = writeBackupConfigFile(dir);
    const result = runCli(['backups', 'drill', '--config', config, '--json']);
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).error).toMatchObject({ code: 'RW_DRILL_NO_ARCHIVE' });
  });

  it('killed mid-drill, its copy is removed by the clean-up the daemon runs at start', async () => {
    const { data, config } = site();
    const drill = spawnCli(['backups', 'drill', '--config', config], {
      env: { [PAUSE_ENV]: 'temp-checked' },
    });
    await waitFor(
      () => (drill.output.stderr.includes('restore paused at temp-checked') ? true : undefined),
      'the drill to pause with its first database restored',
      plus(PROCESS_START, WORK_BACKSTOP),
    );
    const exited = new Promise((resolve) => drill.child.once('exit', resolve));
    drill.child.kill('SIGKILL');
    await exited;
    const left = readdirSync(data).filter((name) => name.startsWith('.drill.restore-'));
    expect(left).toHaveLength(1);
    const removed = await removeLeftovers(loadConfig({ path: config, env: {} }).config.backup, silentLogger);
    expect(removed).toContain(path.join(data, left[0] as string));
    expect(readdirSync(data).filter((name) => name.startsWith('.drill.'))).toEqual([]);
  });
});
