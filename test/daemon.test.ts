import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { DAEMON_LOCK_FILE, startDaemon } from '../src/app/daemon.js';
import type { RunningDaemon } from '../src/app/daemon-context.js';
import { createLogger } from '../src/telemetry/logger.js';
import { daemonReady, exitWithin, spawnCli, waitFor } from './helpers/cli.js';
import { PROCESS_START, parsed, stopDeadline } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { plus } from './helpers/wait.js';

const tempDir = useTempDir();
const silent = createLogger({
  format: 'json',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

function writeConfig(dir: string, extra = ''): string {
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    file,
    `state_dir: ./state\nserver: { address: "127.0.0.1:0" }\nshutdown: { grace_period: 5s }\nlog: { format: json }\n${extra}`,
  );
  return file;
}

/** How long a daemon started with `file` may take to stop once signalled (its grace period). */
function stopOf(file: string) {
  return stopDeadline(loadConfig({ path: file, env: {} }).config);
}

describe('daemon in-process', () => {
  const running: RunningDaemon[] = [];
  afterEach(async () => {
    for (const daemon of running.splice(0)) await daemon.stop('test end');
  });

  it('reports not ready once the store is closed', async () => {
    const { config } = loadConfig({ path: writeConfig(tempDir()), env: {} });
    const daemon = await startDaemon(config, silent);
    running.push(daemon);
    expect((await fetch(`http://${daemon.address}/readyz`)).status).toBe(200);
    daemon.context.store.close();
    const response = await fetch(`http://${daemon.address}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ problems: ['state store is closed'] });
  });

  it('counts failures of its own store where they surface', async () => {
    const { config } = loadConfig({ path: writeConfig(tempDir()), env: {} });
    const daemon = await startDaemon(config, silent);
    running.push(daemon);
    const { store, scheduler, events } = daemon.context;
    // SQLite itself refuses the job's write, as it would on a full or read-only disk.
    const raw = new Database(store.file);
    raw.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON watch_history BEGIN SELECT RAISE(ABORT, 'refused'); END",
    );
    raw.close();
    const failed = new Promise<void>((resolve) =>
      scheduler.fire({
        name: 'writer',
        async runOnce() {
          try {
            store.history.add({
              service: 'shop',
              at: 0,
              kind: 'test',
              watchId: null,
              revision: null,
              message: 'a write',
              detail: null,
            });
          } finally {
            setImmediate(resolve);
          }
        },
      }),
    );
    await failed;
    events.emit('watch:failure', {
      service: 'shop',
      candidate: null,
      stable: null,
      rule: null,
      reason: 'poll',
      watchId: null,
      at: 0,
      dryRun: false,
      operation: 'poll',
      error: { code: 'RW_CLOUDRUN_UNAVAILABLE', message: 'not a store error' },
    });
    const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
    expect(text).toContain('runwarden_store_errors_total{where="job:writer"} 1');
    expect(text).not.toContain('where="watch:poll"');
  });

  it('refuses new work once stopping, and lets running work finish within the grace period', async () => {
    const { config } = loadConfig({ path: writeConfig(tempDir()), env: {} });
    const daemon = await startDaemon(config, silent);
    let release: () => void = () => {};
    let finished = false;
    const work = daemon.context.work.run(
      'slow',
      () =>
        new Promise<void>((resolve) => {
          release = () => {
            finished = true;
            resolve();
          };
        }),
    );
    const stopped = daemon.stop('SIGTERM');
    await expect(daemon.context.work.run('late', async () => undefined)).rejects.toMatchObject({
      code: 'RW_SHUTTING_DOWN',
    });
    release();
    await work;
    expect(await stopped).toEqual({ aborted: [] });
    expect(finished).toBe(true);
    expect(daemon.context.store.isOpen).toBe(false);
  });

  it('aborts work still running at the end of the grace period', async () => {
    const { config } = loadConfig({
      path: writeConfig(tempDir(), ''),
      env: { RUNWARDEN_SHUTDOWN_GRACE_PERIOD: '50ms' },
    });
    const daemon = await startDaemon(config, silent);
    const work = daemon.context.work.run(
      'stuck',
      (signal) =>
        new Promise<void>((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    work.catch(() => {});
    expect(await daemon.stop('SIGTERM')).toEqual({ aborted: ['stuck'] });
    await expect(work).rejects.toMatchObject({ code: 'RW_SHUTTING_DOWN' });
  });
});

describe('daemon as a process', () => {
  it('serves /metrics and exits 0 on SIGTERM, releasing its lock', async () => {
    const dir = tempDir();
    const file = writeConfig(dir);
    const daemon = spawnCli(['daemon', '--config', file]);
    const address = await daemonReady(daemon);
    const metrics = await fetch(`http://${address}/metrics`);
    expect(await metrics.text()).toContain('runwarden_build_info{');
    const lockFile = path.join(dir, 'state', DAEMON_LOCK_FILE);
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(daemon.child.pid);
    daemon.child.kill('SIGTERM');
    expect(await exitWithin(daemon, stopOf(file))).toEqual({ code: 0, signal: null });
    expect(existsSync(lockFile)).toBe(false);
    const lines = daemon.output.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(
      lines.every((line) => typeof line.severity === 'string' && typeof line.component === 'string'),
    ).toBe(true);
    expect(lines.map((line) => line.message)).toContain('stopped');
  });

  it('drains and exits 0 on a SIGTERM that arrives while it is still starting', async () => {
    // No config file: the daemon warns before it starts anything, so the signal lands mid-start-up.
    const dir = tempDir();
    const daemon = spawnCli(['daemon'], {
      cwd: dir,
      env: {
        RUNWARDEN_STATE_DIR: path.join(dir, 'state'),
        RUNWARDEN_SERVER_ADDRESS: '127.0.0.1:0',
        RUNWARDEN_BACKUP_ENABLED: 'false',
      },
    });
    await waitFor(
      () => (daemon.output.stdout.includes('no config file found') ? true : undefined),
      'the daemon to begin starting',
      PROCESS_START,
    );
    daemon.child.kill('SIGTERM');
    expect(await exitWithin(daemon, plus(PROCESS_START, stopDeadline(parsed({}))))).toEqual({
      code: 0,
      signal: null,
    });
    expect(daemon.output.stdout).toContain('"message":"stopped"');
    expect(existsSync(path.join(dir, 'state', DAEMON_LOCK_FILE))).toBe(false);
  });

  it('refuses a second daemon on the same state folder, naming the holder pid', async () => {
    const dir = tempDir();
    const config = writeConfig(dir);
    const first = spawnCli(['daemon', '--config', config]);
    await daemonReady(first);
    const second = spawnCli(['daemon', '--config', config]);
    const result = await exitWithin(second, PROCESS_START);
    expect(result.code).toBe(1);
    expect(second.output.stderr).toContain(`already running (pid ${first.child.pid} holds`);
    first.child.kill('SIGTERM');
    expect((await exitWithin(first, stopOf(config))).code).toBe(0);
  });

  it('takes over a stale lock left by a dead process', async () => {
    const dir = tempDir();
    const config = writeConfig(dir);
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) =>
      dead.once('exit', () => resolve(dead.pid as number)),
    );
    const stateDir = path.join(dir, 'state');
    await import('node:fs/promises').then((fs) => fs.mkdir(stateDir, { recursive: true }));
    writeFileSync(
      path.join(stateDir, DAEMON_LOCK_FILE),
      JSON.stringify({ pid: deadPid, host: hostname(), since: 'earlier' }),
    );
    const daemon = spawnCli(['daemon', '--config', config]);
    await daemonReady(daemon);
    expect(JSON.parse(readFileSync(path.join(stateDir, DAEMON_LOCK_FILE), 'utf8')).pid).toBe(
      daemon.child.pid,
    );
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, stopOf(config))).code).toBe(0);
  });

  it('exits 2 naming the problem when the config is invalid', async () => {
    const dir = tempDir();
    const daemon = spawnCli(['daemon', '--config', writeConfig(dir, 'bogus: 1\n')]);
    expect((await exitWithin(daemon, PROCESS_START)).code).toBe(2);
    expect(daemon.output.stderr).toContain('bogus: unknown key');
  });
});
