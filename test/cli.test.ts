import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { buildProgram, COMMANDS } from '../src/cli/program.js';
import { VERSION } from '../src/version.js';
import { makeDataDir, writeBackupConfigFile } from './helpers/backup.js';
import { runCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

const PRELOAD = fileURLToPath(new URL('./helpers/loaded-packages.cjs', import.meta.url));

/** Runs the CLI and returns its exit status and the npm packages it loaded. */
function packagesLoadedBy(args: string[], dir: string) {
  const out = path.join(dir, `loaded-${args[0]}.json`);
  const result = runCli(args, {
    cwd: dir,
    env: { NODE_OPTIONS: `--require ${PRELOAD}`, LOADED_PACKAGES_OUT: out },
  });
  return { result, packages: JSON.parse(readFileSync(out, 'utf8')) as string[] };
}

describe('cli', () => {
  it('prints the version and help', () => {
    expect(runCli(['--version']).stdout.trim()).toBe(VERSION);
    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('daemon');
    expect(runCli(['config', 'check', '--help']).stdout).toContain('--config');
  });

  it('exits 2 on an unknown command or flag', () => {
    expect(runCli(['frobnicate']).status).toBe(2);
    const badFlag = runCli(['config', 'check', '--nope']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toContain("unknown option '--nope'");
  });

  it('config check prints all three mistakes of a file and exits 2', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'server:\n  adress: x\nshutdown:\n  grace_period: soon\nlog:\n  level: loud\n');
    const result = runCli(['config', 'check', '--config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('server.adress: unknown key');
    expect(result.stderr).toContain('shutdown.grace_period: expected a duration like "7d", got "soon"');
    expect(result.stderr).toContain('log.level: expected one of');
  });

  it('config check --json reports problems as data, in the error document', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'log: { level: loud }\n');
    const result = runCli(['config', 'check', '--config', file, '--json']);
    expect(result.status).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: 'RW_CONFIG',
        message: expect.stringContaining('1 problem(s)'),
        problems: [expect.stringMatching(/^log\.level: /)],
      },
    });
  });

  it('config print shows the effective config with env overrides', () => {
    const file = path.join(tempDir(), 'ok.yaml');
    writeFileSync(file, 'log: { level: warn }\n');
    const result = runCli(['config', 'print', '--config', file, '--json'], {
      env: { RUNWARDEN_SERVER_ADDRESS: '127.0.0.1:9999' },
    });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      log: { level: 'warn' },
      server: { address: '127.0.0.1:9999' },
    });
  });

  it('lists every command file, and each loads the command it is listed as', async () => {
    const files = readdirSync(new URL('../src/cli/commands/', import.meta.url)).filter((name) =>
      name.endsWith('.ts'),
    );
    expect(COMMANDS).toHaveLength(files.length);
    for (const entry of COMMANDS) {
      const program = new Command('runwarden');
      (await entry.load())(program);
      expect(program.commands.map((command) => command.name())).toContain(entry.name);
    }
  });

  it('registers only the command that runs, and lists all of them for help', async () => {
    const config = await buildProgram(['node', 'runwarden', 'config', 'print']);
    expect(config.commands.map((command) => command.name())).toEqual(['config']);
    const help = await buildProgram(['node', 'runwarden', 'help', 'backups']);
    expect(help.commands.map((command) => command.name())).toEqual(['backups']);
    expect(help.commands[0]?.commands.map((command) => command.name())).toEqual(
      expect.arrayContaining(['list', 'verify', 'import', 'prune', 'drill']),
    );
    const listing = runCli(['--help']);
    expect(listing.status).toBe(0);
    for (const entry of COMMANDS) expect(listing.stdout).toContain(`  ${entry.name}`);
  });

  it('a command loads only what it uses: no Google client for backup, status or restore', () => {
    const dir = tempDir();
    makeDataDir(dir);
    const config = writeBackupConfigFile(dir);
    const heavy = (name: string) =>
      /^(@google-cloud\/|google-gax|google-auth-library|@grpc\/)/.test(name) ||
      ['prom-client', 'undici'].includes(name);
    const backup = packagesLoadedBy(['backup', '--config', config, '--json'], dir);
    expect(backup.result.status, backup.result.stderr).toBe(0);
    // The check sees what was loaded: the backup engine's ZIP reader and SQLite are there.
    expect(backup.packages).toEqual(expect.arrayContaining(['better-sqlite3', 'yauzl']));
    expect(backup.packages.filter(heavy)).toEqual([]);
    const archive = (JSON.parse(backup.result.stdout) as { file: string }).file;
    for (const args of [
      ['status'],
      ['restore', archive, '--db', 'main', '--target', path.join(dir, 'restored.sqlite3'), '--no-backup'],
    ]) {
      const run = packagesLoadedBy([...args, '--config', config], dir);
      expect(run.result.status, run.result.stderr).toBe(0);
      expect(run.packages.filter(heavy)).toEqual([]);
    }
    // A deploy-watch command does load them (and so the check would see a backup that did).
    const freeze = packagesLoadedBy(['freeze', '--service', 'shop', '--config', config], dir);
    expect(freeze.result.stderr).toContain('shop');
    expect(freeze.packages).toContain('@google-cloud/run');
  });
});
