import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { Store, type WatchStore } from '../src/store/store.js';
import { spawnCli } from './helpers/cli.js';
import { FAST_SERVICE } from './helpers/watch-harness.js';

/**
 * A person's commands on a service, as the built CLI against the emulator, with no daemon: what
 * freezing twice keeps, and what a rollback or promotion to a revision marked bad asks for first.
 * The tests continue from one another.
 */
describe('manual commands: freeze twice, rollback and promote to a revision marked bad', () => {
  let playground: Playground;
  let dir: string;
  let configFile: string;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runwarden-manual-cli-'));
    playground = await startPlayground(
      { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    configFile = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      configFile,
      stringify({
        state_dir: './state',
        log: { level: 'warn', format: 'json' },
        backup: { enabled: false, dir: './backups', sources: { data_dir: '.' } },
        cloud_run: { endpoint, insecure: true, retry_deadline: '5s', operation_timeout: '10s' },
        monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
        services: [
          { project: playground.project, region: playground.region, service: 'shop', ...FAST_SERVICE },
        ],
      }),
    );
    v1 = playground.revisions('shop')[0]!.name;
    v2 = await playground.deploy('shop', { behaviour: 'healthy' });
  });

  afterAll(async () => {
    await playground?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronous on purpose: the emulator lives in this process and must keep answering.
  const cli = async (...args: string[]) => {
    const run = spawnCli([...args, '--config', configFile]);
    const { code } = await run.exited;
    return { status: code, stdout: run.output.stdout, stderr: run.output.stderr };
  };
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    return { status: result.status, body: JSON.parse(result.stdout), stderr: result.stderr };
  };
  const served = () =>
    Object.fromEntries(playground.traffic('shop').map((entry) => [entry.revision, entry.percent]));
  /** The store as the CLI left it (the same SQLite file, opened and closed around `read`). */
  const inStore = <T>(read: (store: WatchStore) => T): T => {
    const store = Store.open(path.join(dir, 'state'));
    try {
      return read(store);
    } finally {
      store.close();
    }
  };

  it('a second freeze without --reason keeps the first reason and the time it was frozen', async () => {
    expect((await json('freeze', '--service', 'shop', '--reason', 'maintenance')).body).toMatchObject({
      frozen: true,
      changed: true,
    });
    const first = inStore((store) => store.services.get('shop'));
    const again = await json('freeze', '--service', 'shop');
    expect(again.status).toBe(0);
    expect((await json('status')).body.services[0]).toMatchObject({
      frozen: true,
      frozen_reason: 'maintenance',
    });
    expect(again.body).toMatchObject({ frozen: true, changed: false, reason: 'maintenance' });
    const second = inStore((store) => store.services.get('shop'));
    expect(second).toMatchObject({ frozen: true, frozenReason: 'maintenance', frozenAt: first?.frozenAt });
    expect((await cli('status')).stdout).toContain('FROZEN (maintenance)');
  });

  it('a second freeze with a new --reason replaces the reason, keeps the time, and says so in the history', async () => {
    const before = inStore((store) => store.services.get('shop'));
    const again = await json('freeze', '--service', 'shop', '--reason', 'migration running');
    expect(again.body).toMatchObject({ frozen: true, changed: true, reason: 'migration running' });
    const after = inStore((store) => store.services.get('shop'));
    expect(after).toMatchObject({ frozenReason: 'migration running', frozenAt: before?.frozenAt });
    const kinds = inStore((store) => store.history.list({ service: 'shop', limit: 10 })).map((entry) => [
      entry.kind,
      entry.message,
    ]);
    expect(kinds).toContainEqual(['service:frozen', 'frozen: maintenance; no automatic action']);
    expect(kinds).toContainEqual([
      'service:frozen',
      'still frozen; reason now: migration running (was: maintenance)',
    ]);
    expect((await json('unfreeze', '--service', 'shop')).body).toMatchObject({
      frozen: false,
      changed: true,
    });
    expect(inStore((store) => store.services.get('shop'))).toMatchObject({
      frozen: false,
      frozenReason: null,
    });
  });

  it('rollback --to a revision marked bad says so, changes nothing, and goes ahead with --force', async () => {
    inStore((store) => store.revisions.mark('shop', v1, 'bad', 'rule http_5xx tripped', Date.now()));
    expect(served()).toEqual({ [v2]: 100 });

    const refused = await cli('rollback', '--service', 'shop', '--to', v1);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain(`${v1} is marked bad (rule http_5xx tripped`);
    expect(refused.stdout).toContain('--force');
    const dry = await json('rollback', '--service', 'shop', '--to', v1, '--dry-run');
    expect(dry.status).toBe(1);
    expect(dry.body).toMatchObject({ kind: 'refused', reason: 'target_bad', to: v1 });
    expect(served()).toEqual({ [v2]: 100 });

    const forced = await json('rollback', '--service', 'shop', '--to', v1, '--force');
    expect(forced.status).toBe(0);
    expect(forced.body).toMatchObject({ kind: 'rolled_back', to: v1, confirmed: true });
    expect(served()).toEqual({ [v1]: 100 });
  });

  it('promote of a revision marked bad says so, changes nothing, and goes ahead with --force', async () => {
    inStore((store) => store.revisions.mark('shop', v2, 'bad', 'rolled back: health failing', Date.now()));

    const refused = await cli('promote', '--service', 'shop', '--revision', v2);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${v2} is marked bad (rolled back: health failing`);
    expect(refused.stderr).toContain('--force');
    expect(served()).toEqual({ [v1]: 100 });
    expect(inStore((store) => store.revisions.bad('shop')).has(v2)).toBe(true);

    const forced = await json('promote', '--service', 'shop', '--revision', v2, '--force');
    expect(forced.status).toBe(0);
    expect(served()).toEqual({ [v2]: 100 });
    expect(inStore((store) => store.revisions.bad('shop')).has(v2)).toBe(false);
  });
});
