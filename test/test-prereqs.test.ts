import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types, run by `npm test` before anything is built
import { findMissing, planFor, TOOLS } from '../scripts/test-prereqs.mjs';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const script = fileURLToPath(new URL('../scripts/test-prereqs.mjs', import.meta.url));
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

interface Tool {
  command: string;
  deb: string;
}

/** A folder holding an executable stub for each of `commands`. */
function binWith(commands: string[]): string {
  const bin = path.join(tempDir(), 'bin');
  mkdirSync(bin);
  for (const command of commands) {
    writeFileSync(path.join(bin, command), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(bin, command), 0o755);
  }
  return bin;
}

function runScript(pathEnv: string) {
  return spawnSync(process.execPath, [script], {
    env: { PATH: pathEnv, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm test checks its own prerequisites first', () => {
  it('runs as the pretest step of npm test', () => {
    expect(packageJson.scripts.pretest).toBe('node scripts/test-prereqs.mjs');
  });

  it('knows every Debian package the tests and the quick bench call', () => {
    const debs = new Set((TOOLS as Tool[]).map((tool) => tool.deb));
    for (const deb of [
      'prometheus',
      'prometheus-alertmanager',
      'restic',
      'zip',
      'unzip',
      'sqlite3',
      'systemd',
      'time',
      'openssl',
      'age',
    ]) {
      expect(debs, deb).toContain(deb);
    }
  });

  it('finds a tool missing from PATH, and an absolute one missing from its place', () => {
    const commands = (TOOLS as Tool[])
      .map((tool) => tool.command)
      .filter((command) => !command.startsWith('/'));
    const bin = binWith(commands.filter((command) => command !== 'restic'));
    const missing = (findMissing(bin) as Tool[]).map((tool) => tool.command);
    expect(missing).toContain('restic');
    expect(missing).not.toContain('zip');
  });

  it('plans an apt-get install as root, and stops with the exact command otherwise', () => {
    const missing = (TOOLS as Tool[]).filter((tool) => ['restic', 'zip'].includes(tool.command));
    expect(planFor(missing, { root: true, aptGet: true })).toEqual({
      action: 'install',
      command: 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic zip',
    });
    expect(planFor(missing, { root: false, aptGet: true })).toEqual({
      action: 'stop',
      command: 'sudo apt-get update && sudo apt-get install -y restic zip',
    });
    expect(planFor(missing, { root: true, aptGet: false })).toEqual({
      action: 'stop',
      command: 'apt-get update && apt-get install -y restic zip',
    });
    expect(planFor([], { root: false, aptGet: false })).toEqual({ action: 'ok' });
  });

  it('without apt-get and tools, stops at once with exit 1, naming each tool and the install command', () => {
    const result = runScript(binWith([]));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing: prometheus (Debian package prometheus)');
    expect(result.stderr).toMatch(/apt-get install -y [a-z -]*prometheus-alertmanager/);
    expect(result.stdout).toBe('');
  });

  it('with every tool on PATH, passes silently', () => {
    const tools = TOOLS as Tool[];
    const bin = binWith(tools.map((tool) => tool.command).filter((command) => !command.startsWith('/')));
    for (const tool of tools.filter((candidate) => candidate.command.startsWith('/'))) {
      // Absolute tools are looked up where the tests call them; this machine has them (CI installs them).
      expect(findMissing(bin).map((missing: Tool) => missing.command)).not.toContain(tool.command);
    }
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const result = runScript(bin);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
