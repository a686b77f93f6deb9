import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, exitWithin, spawnCli, spawnProcess, waitForPoint } from './helpers/cli.js';
import { PROCESS_START, WORK_BACKSTOP } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { FAST_SERVICE, type Harness, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { ready } = useWatchHarness('runwarden-emergency-cli-');

/** The harness's set-up as a config file for the built CLI: same store, emulator and data. */
function configFor(h: Harness): string {
  const file = path.join(h.stateDir, 'runwarden.yaml');
  const endpoint = `${h.playground.endpoint.host}:${h.playground.endpoint.port}`;
  writeFileSync(
    file,
    stringify({
      state_dir: h.stateDir,
      backup: {
        dir: path.join(h.stateDir, 'backups'),
        lock_wait: '10s',
        sources: { data_dir: path.join(h.stateDir, 'app'), tenants: { required: false } },
      },
      cloud_run: {
        endpoint,
        insecure: true,
        retry_deadline: '5s',
        operation_timeout: '10s',
        call_timeout: '3s',
      },
      monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
      services: [
        { project: h.playground.project, region: h.playground.region, service: 'shop', ...FAST_SERVICE },
      ],
    }),
  );
  return file;
}

/**
 * A healthy known good revision and a bad one serving all traffic (5xx for half the requests),
 * its watch started with a restore point taken: the state a person finds at 3 a.m. Nothing else
 * runs the watch afterwards, so only the CLI changes anything.
 */
async function badDeploy(): Promise<{ h: Harness; v1: string; v2: string; config: string }> {
  const { h, v1 } = await ready();
  const v2 = await h.playground.deploy('shop', { behaviour: 'errors' });
  const started = await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
  await waitFor(
    () => h.store.watches.get(started.watchId as number)?.restorePoint?.backup ?? undefined,
    'the restore point backup',
    WORK_BACKSTOP,
  );
  await h.playground.driveTraffic('shop', { rps: 20, durationMs: 1_000 });
  expect(servedBy(h)).toEqual({ [v2]: 100 });
  return { h, v1, v2, config: configFor(h) };
}

const rollbackEntries = (h: Harness) =>
  h.store.history
    .list({ service: 'shop', limit: 500 })
    .filter((entry) => entry.kind === 'rollback:completed');

describe('runwarden emergency against the emulator', () => {
  it('with --yes --rollback --restore none (no terminal): rolls back through the one path, probes healthy, writes the report', async () => {
    const { h, v1, v2, config } = await badDeploy();
    const run = spawnCli([
      'emergency',
      '--service',
      'shop',
      '--yes',
      '--rollback',
      '--restore',
      'none',
      '--json',
      '--config',
      config,
    ]);
    const { code } = await exitWithin(run, PROCESS_START);
    expect(code, run.output.stderr).toBe(0);
    const result = JSON.parse(run.output.stdout);
    expect(result.services[0]).toMatchObject({
      service: 'shop',
      serving: { ok: true, value: [{ revision: v2, percent: 100 }] },
      stable: v1,
      rollback_needed: true,
      restore_point: { source: 'watch_start', schema_changed: false },
    });
    expect(result.services[0].errors.ok).toBe(true);
    expect(result.services[0].evaluations.length).toBeGreaterThan(0);
    expect(result.newest_backups.length).toBeGreaterThan(0);
    expect(result.rollbacks).toEqual([
      expect.objectContaining({
        service: 'shop',
        outcome: { kind: 'rolled_back', to: v1, from: [v2], confirmed: true },
        health: expect.objectContaining({ healthy: true }),
      }),
    ]);
    expect(result.rollbacks[0].health.probes.at(-1)).toMatchObject({ ok: true, status: 200 });
    expect(result.restore).toBeNull();
    // Traffic is back on the known good revision, and the history says who did it.
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    const [entry] = rollbackEntries(h);
    expect(entry?.detail).toMatchObject({ trigger: 'emergency', to: v1, confirmed: true });
    expect(result.report.command).toBe(`runwarden report --rollback ${entry?.id}`);
    expect(result.report.path).toBe(path.join(h.stateDir, 'reports', `incident-rollback-${entry?.id}.md`));
    const report = readFileSync(result.report.path, 'utf8');
    expect(report).toContain(`# Incident: shop: ${v2} rolled back to ${v1}`);
    expect(report).toContain('rollback sent (emergency)');
    // The running story went to stderr: stdout is the JSON document alone.
    expect(run.output.stderr).toContain('probing /health until healthy');

    // Run again: nothing left to roll back, and the report is the newest rollback's.
    const again = spawnCli(['emergency', '--yes', '--json', '--config', config]);
    expect((await exitWithin(again, PROCESS_START)).code, again.output.stderr).toBe(0);
    const second = JSON.parse(again.output.stdout);
    expect(second.services[0]).toMatchObject({
      rollback_needed: false,
      serving: { value: [{ revision: v1, percent: 100 }] },
    });
    expect(second.rollbacks).toEqual([]);
    expect(second.report.command).toBe(`runwarden report --rollback ${entry?.id}`);
    expect(again.output.stderr).toContain(`no rollback needed: all traffic already goes to ${v1}`);
    expect(rollbackEntries(h)).toHaveLength(1);
  });

  it('on a terminal: y rolls back, n declines the restore offered for the changed schema', async () => {
    const { h, v1, v2, config } = await badDeploy();
    // The bad deploy's migration: the schema changed since the restore point.
    const db = new Database(h.mainDb);
    db.exec("INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_bad', 'now')");
    db.close();
    const dbBefore = readFileSync(h.mainDb);
    const command = `${process.execPath} ${CLI} emergency --service shop --config ${config}`;
    const run = spawnProcess('script', ['-qec', command, '/dev/null'], { stdin: 'pipe' });
    const stdin = run.child.stdin as NonNullable<typeof run.child.stdin>;
    await waitForPoint(
      run,
      () => (run.output.stdout.includes('[y/N]') ? true : undefined),
      'the rollback question',
    );
    expect(run.output.stdout).toContain(`Roll shop back: all traffic from ${v2} to ${v1}?`);
    stdin.write('y\n');
    await waitForPoint(
      run,
      () => (run.output.stdout.includes('[all/main/tenant:ID/media/N]') ? true : undefined),
      'the restore question',
    );
    expect(run.output.stdout).toContain('migration(s) applied since: shop.0002_bad');
    expect(run.output.stdout).toContain(`main database: ${h.mainDb}`);
    stdin.write('n\n');
    const { code } = await exitWithin(run, PROCESS_START);
    stdin.end();
    const out = run.output.stdout;
    expect(code, out).toBe(0);
    expect(out).toMatch(/shop: \/health healthy \(HTTP 200/);
    expect(out).toContain('not restored (declined)');
    expect(out).toContain('what happened:');
    const [entry] = rollbackEntries(h);
    expect(out).toContain(`print it again: runwarden report --rollback ${entry?.id}`);
    expect(existsSync(path.join(h.stateDir, 'reports', `incident-rollback-${entry?.id}.md`))).toBe(true);
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    // Declined: the data is as it was, and no restore was recorded.
    expect(readFileSync(h.mainDb).equals(dbBefore)).toBe(true);
    expect(h.store.restores.list()).toEqual([]);
  });

  it('with --yes --no-rollback --restore all: restores from the restore point (one journal), recorded, traffic untouched', async () => {
    const { h, v2, config } = await badDeploy();
    const db = new Database(h.mainDb);
    db.exec("INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '0002_bad', 'now')");
    db.close();
    const point = h.store.watches.recent('shop', 1)[0]?.restorePoint?.backup;
    const run = spawnCli([
      'emergency',
      '--yes',
      '--no-rollback',
      '--restore',
      'all',
      '--json',
      '--config',
      config,
    ]);
    const { code } = await exitWithin(run, PROCESS_START);
    expect(code, run.output.stderr).toBe(0);
    const result = JSON.parse(run.output.stdout);
    expect(result.services[0].restore_point).toMatchObject({ backup: point, schema_changed: true });
    expect(result.rollbacks).toEqual([]);
    expect(result.restore).toMatchObject({ scope: 'all', backup: point, error: null });
    expect(result.restore.outcome.targets.map((target: { kind: string }) => target.kind)).toContain('db');
    expect(result.report).toBeNull();
    // The migration the bad deploy applied is gone; the replaced database was kept; traffic untouched.
    const after = new Database(h.mainDb, { readonly: true });
    const names = after.prepare('SELECT name FROM django_migrations ORDER BY id').all();
    after.close();
    expect(names).toEqual([{ name: '0001_initial' }]);
    expect(h.store.restores.list().length).toBeGreaterThan(0);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
  });

  it('without a terminal and without --yes: prints the overview, changes nothing, exits 2', async () => {
    const { h, v1, v2, config } = await badDeploy();
    const run = spawnCli(['emergency', '--config', config]);
    const { code } = await exitWithin(run, PROCESS_START);
    expect(code).toBe(2);
    expect(run.output.stdout).toContain('== shop');
    expect(run.output.stdout).toContain(`known good:     ${v1}`);
    expect(run.output.stdout).toMatch(
      new RegExp(`errors: +${v2}: \\d+ 5xx of \\d+ requests in the last 10 min`),
    );
    expect(run.output.stdout).toContain('not acting: no terminal to ask on');
    expect(servedBy(h)).toEqual({ [v2]: 100 });
    expect(rollbackEntries(h)).toEqual([]);
    const asJson = spawnCli(['emergency', '--rollback', '--json', '--config', config]);
    expect((await exitWithin(asJson, PROCESS_START)).code).toBe(2);
    expect(JSON.parse(asJson.output.stdout)).toMatchObject({
      error: { code: 'RW_USAGE', message: expect.stringContaining('no terminal to ask on') },
      services: [{ service: 'shop', stable: v1 }],
      rollbacks: [],
    });
    expect(servedBy(h)).toEqual({ [v2]: 100 });

    const bad = spawnCli(['emergency', '--yes', '--restore', 'everything', '--config', config]);
    expect((await exitWithin(bad, PROCESS_START)).code).toBe(2);
    expect(bad.output.stderr).toContain('--restore everything: expected all, main, tenant:ID, media or none');
    expect(servedBy(h)).toEqual({ [v2]: 100 });
  });
});
