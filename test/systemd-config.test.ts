import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { makeDataDir } from './helpers/backup.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const unitFile = fileURLToPath(new URL('../systemd/runwarden.service', import.meta.url));
const unitConfig = fileURLToPath(new URL('../systemd/runwarden.yaml', import.meta.url));
const exampleConfig = fileURLToPath(new URL('../config/runwarden.example.yaml', import.meta.url));

/** Folders a unit lets its service write, and folders it forbids, from its [Service] lines. */
interface UnitSandbox {
  writable: string[];
  readOnly: string[];
}

/**
 * What a unit with ProtectSystem=strict may write: ReadWritePaths, the folders systemd creates for
 * StateDirectory and friends, and /tmp and /var/tmp with PrivateTmp. The longest match wins, so a
 * ReadOnlyPaths inside a writable folder takes it back.
 */
function sandboxOf(unitText: string): UnitSandbox {
  const values = (key: string) =>
    [...unitText.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((match) =>
      (match[1] ?? '').split(/\s+/).filter(Boolean),
    );
  const bare = (entry: string) => entry.replace(/^[-+]+/, '');
  const managed: Record<string, string> = {
    StateDirectory: '/var/lib',
    CacheDirectory: '/var/cache',
    LogsDirectory: '/var/log',
    RuntimeDirectory: '/run',
  };
  const writable = [
    ...values('ReadWritePaths').map(bare),
    ...Object.entries(managed).flatMap(([key, base]) => values(key).map((name) => path.join(base, name))),
    ...(values('PrivateTmp').includes('yes') ? ['/tmp', '/var/tmp'] : []),
  ];
  const readOnly = [...values('ReadOnlyPaths'), ...values('InaccessiblePaths')].map(bare);
  return { writable, readOnly };
}

function isWritable(file: string, sandbox: UnitSandbox): boolean {
  const inside = (dir: string) => file === dir || file.startsWith(`${dir}/`);
  const longest = (dirs: string[]) => Math.max(-1, ...dirs.filter(inside).map((dir) => dir.length));
  const writable = longest(sandbox.writable);
  return writable >= 0 && writable > longest(sandbox.readOnly);
}

/** The folders the daemon and the CLI write in under `config`. */
function writtenFolders(config: Config): Record<string, string> {
  const sources = config.backup.sources;
  return {
    state_dir: config.state_dir,
    'backup.dir': config.backup.dir,
    'backup.sources.main_db.path (its folder)': path.dirname(sources.main_db.path),
    'backup.sources.tenants.pattern (its folder)': path.dirname(sources.tenants.pattern),
    'backup.sources.media.dir (its parent, for a restore)': path.dirname(sources.media.dir),
    'backup.sources.media.dir': sources.media.dir,
  };
}

function outsideSandbox(config: Config, sandbox: UnitSandbox, root = ''): string[] {
  return Object.entries(writtenFolders(config)).flatMap(([what, folder]) => {
    const asInstalled = root ? path.join('/', path.relative(root, folder)) : folder;
    return isWritable(asInstalled, sandbox) ? [] : [`${what}: ${asInstalled}`];
  });
}

const unitText = readFileSync(unitFile, 'utf8');
const sandbox = sandboxOf(unitText);

describe('the systemd config (systemd/runwarden.yaml) and the unit agree', () => {
  it('the unit makes the system read-only, so only its writable folders can be written', () => {
    expect(unitText).toMatch(/^ProtectSystem=strict$/m);
    expect(sandbox.writable).toEqual(
      expect.arrayContaining(['/var/lib/runwarden', '/var/backups/runwarden', '/srv/app', '/tmp']),
    );
  });

  it('installed as /etc/runwarden/runwarden.yaml, every folder it writes is writable under the unit', () => {
    const root = tempDir();
    const installed = path.join(root, 'etc', 'runwarden', 'runwarden.yaml');
    mkdirSync(path.dirname(installed), { recursive: true });
    copyFileSync(unitConfig, installed);
    const { config } = loadConfig({ path: installed, env: {} });
    expect(outsideSandbox(config, sandbox)).toEqual([]);
    expect(config.state_dir).toBe('/var/lib/runwarden');
  });

  it('the example config installed the same way would write under the read-only /etc/runwarden', () => {
    const root = tempDir();
    const installed = path.join(root, 'etc', 'runwarden', 'runwarden.yaml');
    mkdirSync(path.dirname(installed), { recursive: true });
    copyFileSync(exampleConfig, installed);
    const { config } = loadConfig({ path: installed, env: {} });
    expect(outsideSandbox(config, sandbox, root)).toEqual(
      expect.arrayContaining(['state_dir: /etc/runwarden/state', 'backup.dir: /etc/runwarden/backups']),
    );
  });

  it('a real backup, verify, prune, restores of every scope and a daemon with a scheduled backup write only inside the writable folders', async () => {
    // The unit's file system under a temp root: the config's absolute paths are moved under it,
    // TMPDIR stands for the private /tmp, and every file or folder that appears or changes anywhere
    // under the root afterwards must lie in a folder the unit makes writable.
    const root = tempDir();
    const underRoot = (absolute: string) => path.join(root, absolute);
    const installed = underRoot('/etc/runwarden/runwarden.yaml');
    mkdirSync(path.dirname(installed), { recursive: true });
    writeFileSync(installed, stringify(rootedConfig(parse(readFileSync(unitConfig, 'utf8')), root)));
    const { config } = loadConfig({ path: installed, env: {} });
    expect(config.backup.sources.data_dir).toBe(underRoot('/srv/app'));
    // systemd creates StateDirectory, and ReadWritePaths must exist before the unit starts.
    for (const dir of sandbox.writable) mkdirSync(underRoot(dir), { recursive: true });
    rmSync(underRoot('/srv/app'), { recursive: true });
    renameSync(makeDataDir(tempDir(), { tenants: ['acme'] }), underRoot('/srv/app'));
    const before = listTree(root);

    const env = { TMPDIR: underRoot('/tmp'), RUNWARDEN_SERVER_ADDRESS: '127.0.0.1:0' };
    const cli = (...args: string[]) => {
      const result = runCli([...args, '--config', installed], { env });
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    };
    cli('backup');
    cli('backups', 'verify', '--all');
    cli('backups', 'prune');
    const archive = readdirSync(config.backup.dir).find((name) => name.endsWith('.zip')) as string;
    cli('restore', archive, '--db', 'main', '--force');
    cli('restore', archive, '--tenant', 'acme', '--force');
    cli('restore', archive, '--media', '--force');

    const daemon = spawnCli(['daemon', '--config', installed], {
      env: { ...env, RUNWARDEN_BACKUP_SCHEDULE: '* * * * * *' },
    });
    const outcome = await Promise.race([
      untilLogged(daemon.output, /"message":"backup (completed|failed)"/),
      daemon.exited.then(({ code }) => `exited with ${code}`),
    ]);
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    expect(outcome, daemon.output.stdout + daemon.output.stderr).toContain('backup completed');

    const written = changedSince(before, listTree(root)).map((file) =>
      path.join('/', path.relative(root, file)),
    );
    expect(written.length).toBeGreaterThan(0);
    expect(written.filter((file) => !isWritable(file, sandbox))).toEqual([]);
  }, 180_000);
});

/** `config` with every absolute path moved under `root`. */
function rootedConfig(node: unknown, root: string): unknown {
  if (typeof node === 'string') return node.startsWith('/') ? path.join(root, node) : node;
  if (Array.isArray(node)) return node.map((item) => rootedConfig(item, root));
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, rootedConfig(value, root)]));
}

/** Every path under `dir` with its modification time and size. */
function listTree(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = statSync(full, { throwIfNoEntry: false });
    if (!stat) continue;
    into.set(full, `${stat.mtimeMs}:${stat.size}`);
    if (stat.isDirectory()) listTree(full, into);
  }
  return into;
}

function changedSince(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([file, stamp]) => before.get(file) !== stamp).map(([file]) => file);
}

/** Resolves with the first log line matching `pattern`, as soon as it is written. */
function untilLogged(output: { stdout: string; stderr: string }, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const check = () => {
      const line = `${output.stdout}\n${output.stderr}`.split('\n').find((text) => pattern.test(text));
      if (line !== undefined) resolve(line);
      else setTimeout(check, 25);
    };
    check();
  });
}
