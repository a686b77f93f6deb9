import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildProgram, COMMANDS } from '../src/cli/program.js';
import { spawnCli, waitFor } from './helpers/cli.js';
import { PROCESS_START } from './helpers/deadlines.js';
import {
  FAST_SERVICE,
  type Harness,
  keepTraffic,
  knownFromHistory,
  startHarness,
} from './helpers/watch-harness.js';

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Every key, at every depth, that is not snake_case, by its path (`$.services[0].stable`). */
function nonSnakeKeys(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => nonSnakeKeys(item, `${at}[${index}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [
    ...(SNAKE.test(key) ? [] : [`${at}.${key}`]),
    ...nonSnakeKeys(inner, `${at}.${key}`),
  ]);
}

/** The full name (`backups verify`) of every command that takes --json, from the real program. */
async function commandsWithJson(): Promise<string[]> {
  const names = new Set<string>();
  const walk = (command: Command, prefix: string) => {
    for (const sub of command.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.options.some((option) => option.long === '--json')) names.add(name);
      walk(sub, `${name} `);
    }
  };
  for (const entry of COMMANDS) walk(await buildProgram(['node', 'runwarden', entry.name]), '');
  return [...names].sort();
}

/**
 * `--json` as a script sees it, from the built CLI against real files and the emulator: one key
 * style (snake_case) at every depth of every command's output, and on every non-zero exit an
 * `{"error": {"code", "message"}}` document on stdout with the usual exit code. The store holds a
 * real watch that rolled a bad deploy back (so history details and rule evaluations are the real
 * thing), made in this process by the same runtime the daemon uses. The tests continue from one
 * another.
 */
describe('--json output', () => {
  let harness: Harness;
  let dir: string;
  let configFile: string;
  let v1: string;
  let v2: string;
  let archive: string;
  /** Every command run with --json that exited 0, by its full name: what the key check covered. */
  const covered = new Map<string, unknown>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runwarden-cli-json-'));
    harness = await startHarness({ stateDir: dir });
    v1 = knownFromHistory(harness);
    const stopTraffic = keepTraffic(harness.playground);
    try {
      v2 = await harness.playground.deploy('shop', { behaviour: 'errors' });
      await harness.runUntilEvent('rollback:completed');
    } finally {
      await stopTraffic();
    }
    await harness.closeRuntime();
    const { playground, config } = harness;
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    configFile = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      configFile,
      stringify({
        state_dir: dir,
        log: { level: 'warn', format: 'json' },
        backup: {
          dir: config.backup.dir,
          lock_wait: '10s',
          sources: { data_dir: path.join(dir, 'app'), tenants: { required: false } },
        },
        cloud_run: { endpoint, insecure: true, retry_deadline: '5s', operation_timeout: '10s' },
        monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
        services: [
          { project: playground.project, region: playground.region, service: 'shop', ...FAST_SERVICE },
        ],
      }),
    );
  });

  afterAll(async () => {
    await harness?.playground.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronous on purpose: the emulator lives in this process and must keep answering.
  const run = async (args: string[], config = true) => {
    const child = spawnCli([...args, ...(config ? ['--config', configFile] : []), '--json']);
    const { code } = await child.exited;
    return { status: code, stdout: child.output.stdout, stderr: child.output.stderr };
  };
  /** Runs a command that must succeed; checks its keys; returns its document. */
  const ok = async (name: string, ...args: string[]) => {
    const result = await run([...name.split(' '), ...args]);
    expect(result.status, `${name} ${args.join(' ')}: ${result.stderr}`).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(nonSnakeKeys(doc), `${name} ${args.join(' ')}`).toEqual([]);
    covered.set(name, doc);
    return doc;
  };
  /** Runs a command that must fail with `exit`; checks the error document; returns it. */
  const fails = async (exit: number, code: string, args: string[], config = true) => {
    const result = await run(args, config);
    expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(exit);
    const doc = JSON.parse(result.stdout);
    expect(doc.error, args.join(' ')).toEqual(
      expect.objectContaining({ code, message: expect.stringMatching(/\S/) }),
    );
    expect(nonSnakeKeys(doc), args.join(' ')).toEqual([]);
    return doc;
  };

  it('backup commands and restore: snake_case keys at every depth', async () => {
    const backup = await ok('backup');
    archive = backup.file;
    expect(backup).toMatchObject({ duration_ms: expect.any(Number), started_at: expect.any(String) });
    await ok('config check');
    expect(await ok('config print')).toMatchObject({ state_dir: dir });
    expect((await ok('backups list')).backups[0]).toMatchObject({ file: archive, status: 'verified' });
    expect((await ok('backups verify', archive)).results).toEqual([
      expect.objectContaining({ file: archive, ok: true }),
    ]);
    await ok('backups verify', '--all');
    expect(await ok('backups drill')).toMatchObject({ ok: true, archive, checks: 'full', problems: [] });
    const copy = path.join(
      path.dirname(archive),
      path.basename(archive).replace(/\d{8}_\d{6}/, '20200101_000000'),
    );
    copyFileSync(archive, copy);
    expect(await ok('backups import', copy)).toMatchObject({ file: copy, started_at: expect.any(String) });
    expect(await ok('backups prune', '--dry-run')).toMatchObject({ dry_run: true, empty_policy: false });
    expect((await ok('backups prune')).decisions[0]).toHaveProperty('started_at');
    const restored = await ok(
      'restore',
      archive,
      '--db',
      'main',
      '--target',
      path.join(dir, 'restored.sqlite3'),
      '--no-backup',
    );
    expect(restored).toMatchObject({
      archive_sha256: backup.sha256,
      safety_copy: null,
      pre_restore_backup: null,
      removed_sidecars: [],
    });
  }, 180_000);

  it('deploy-watch commands against the emulator: snake_case keys at every depth', async () => {
    const status = (await ok('status')).services[0];
    expect(status).toMatchObject({
      stable: { revision: v1 },
      serving: [{ revision: v1, percent: 100 }],
      bad_revisions: [v2],
    });
    const entries = (await ok('history')).entries as Array<{
      kind: string;
      watch_id: number;
      detail: unknown;
    }>;
    const completed = entries.find((entry) => entry.kind === 'rollback:completed')!;
    // Stored by the recorder in camelCase; printed like everything else.
    expect(completed.detail).toMatchObject({ dry_run: false, restore_point: { schema_changed: false } });
    const evaluations = await ok('history', '--watch', String(completed.watch_id));
    expect(evaluations.watch).toMatchObject({ id: completed.watch_id, candidate: v2 });
    expect(evaluations.evaluations.length).toBeGreaterThan(0);
    const emergency = await ok(
      'emergency',
      '--service',
      'shop',
      '--yes',
      '--no-rollback',
      '--restore',
      'none',
    );
    expect(emergency).toEqual(expect.objectContaining({ services: expect.any(Array) }));
    const report = await ok('report', '--watch', String(completed.watch_id));
    expect(report.incidents).toEqual([
      expect.objectContaining({ candidate: expect.any(String), outcome: 'rolled_back' }),
    ]);
    expect(await ok('predeploy', '--service', 'shop')).toMatchObject({
      stable: v1,
      schema: { schema_version: expect.anything() },
    });
    expect(await ok('freeze', '--service', 'shop', '--reason', 'json test')).toMatchObject({ frozen: true });
    expect(await ok('unfreeze', '--service', 'shop')).toMatchObject({ frozen: false });
    expect(await ok('rollback', '--service', 'shop', '--dry-run')).toMatchObject({ kind: 'noop', to: v1 });
    expect(await ok('promote', '--service', 'shop', '--revision', v1)).toMatchObject({
      revision: v1,
      traffic_changed: false,
    });
  }, 180_000);

  it('playground: snake_case keys at every depth', async () => {
    const child = spawnCli([
      'playground',
      '--port',
      '0',
      '--control-port',
      '0',
      '--storage-port',
      '0',
      '--json',
    ]);
    try {
      const doc = await waitFor(
        () => {
          try {
            return JSON.parse(child.output.stdout) as Record<string, unknown>;
          } catch {
            return undefined;
          }
        },
        'the playground to describe itself',
        PROCESS_START,
      );
      expect(nonSnakeKeys(doc)).toEqual([]);
      expect(doc).toMatchObject({
        grpc_endpoint: expect.any(String),
        control_url: expect.any(String),
        faults: [],
      });
      covered.set('playground', doc);
    } finally {
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });

  it('the checks above covered every command that takes --json', async () => {
    expect([...covered.keys()].sort()).toEqual(await commandsWithJson());
  });

  it('exit 1: a thrown error, an archive that fails verification, a refused rollback', async () => {
    const missing = await fails(1, 'RW_BACKUP_NOT_FOUND', ['restore', 'nope.zip', '--db', 'main']);
    expect(missing.error.message).toContain('backup nope.zip not found');

    const corrupt = path.join(
      path.dirname(archive),
      path.basename(archive).replace(/\d{8}_\d{6}/, '20200102_000000'),
    );
    const bytes = readFileSync(archive);
    bytes.fill(0x55, 200, 400);
    writeFileSync(corrupt, bytes);
    const verify = await fails(1, 'RW_VERIFY_FAILED', ['backups', 'verify', corrupt]);
    expect(verify.results).toEqual([expect.objectContaining({ file: corrupt, ok: false })]);

    const refused = await fails(1, 'RW_ROLLBACK_REFUSED', ['rollback', '--service', 'shop', '--to', v2]);
    expect(refused).toMatchObject({ kind: 'refused', reason: 'target_bad', to: v2 });
    expect(refused.error.message).toContain(`${v2} is marked bad`);
  });

  it('exit 2: a usage error, an invalid config (every problem listed), a flag commander refuses', async () => {
    const unknown = await fails(2, 'RW_USAGE', ['rollback', '--service', 'nope']);
    expect(unknown.error.message).toContain('unknown service "nope"; configured: shop');

    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'log: { level: loud }\nserver: { adress: x }\n');
    const config = await fails(2, 'RW_CONFIG', ['config', 'check', '--config', bad], false);
    expect(config.error.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^log\.level: /),
        expect.stringMatching(/^server\.adress: unknown key/),
      ]),
    );
    expect(config.error.problems).toHaveLength(2);

    const flag = await fails(2, 'RW_USAGE', ['status', '--nope']);
    expect(flag.error.message).toBe("unknown option '--nope'");
    // The daemon and the demo print no result of their own, so they take no --json.
    for (const command of ['daemon', 'demo'])
      expect((await fails(2, 'RW_USAGE', [command], false)).error.message).toBe("unknown option '--json'");
  });
});
