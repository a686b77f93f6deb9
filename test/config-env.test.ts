import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envVariableProblem } from '../src/config/env-names.js';
import { loadConfig } from '../src/config/load.js';
import { runCli } from './helpers/cli.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const root = fileURLToPath(new URL('..', import.meta.url));

function emptyConfig(): string {
  const file = path.join(tempDir(), 'runwarden.yaml');
  writeFileSync(file, '');
  return file;
}

describe('RUNWARDEN_* environment variables', () => {
  it('a misspelt option variable is an error naming the variable it resembles', () => {
    const problems = problemsOf(() =>
      loadConfig({
        path: emptyConfig(),
        env: { RUNWARDEN_SERVER_ADRESS: '1', RUNWARDEN_ALERTS_AUTH_BEARER_TOKEN: 'x' },
      }),
    );
    expect(problems).toEqual([
      'RUNWARDEN_ALERTS_AUTH_BEARER_TOKEN: unknown environment variable (did you mean RUNWARDEN_ALERTS_BEARER_TOKEN?)',
      'RUNWARDEN_SERVER_ADRESS: unknown environment variable (did you mean RUNWARDEN_SERVER_ADDRESS?)',
    ]);
  });

  it('`config check` exits 2 naming an unknown variable, with the file otherwise valid', () => {
    const result = runCli(['config', 'check', '--config', emptyConfig()], {
      env: { RUNWARDEN_SERVER_ADRESS: '1' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      'RUNWARDEN_SERVER_ADRESS: unknown environment variable (did you mean RUNWARDEN_SERVER_ADDRESS?)',
    );
  });

  it('a variable far from every option gets no guess', () => {
    expect(envVariableProblem('RUNWARDEN_ZZZZZZZZZZZZZZZZZZZZ')).toBe(
      'RUNWARDEN_ZZZZZZZZZZZZZZZZZZZZ: unknown environment variable (options are RUNWARDEN_ plus their path; see `runwarden config print`)',
    );
  });

  it('a variable in the wrong case is caught and named with its right spelling', () => {
    expect(envVariableProblem('runwarden_server_address')).toBe(
      'runwarden_server_address: unknown environment variable (did you mean RUNWARDEN_SERVER_ADDRESS?)',
    );
  });

  it('_FILE is accepted for secrets only', () => {
    expect(envVariableProblem('RUNWARDEN_ALERTS_BEARER_TOKEN_FILE')).toBeUndefined();
    expect(envVariableProblem('RUNWARDEN_ALERTS_BASIC_PASSWORD_FILE')).toBeUndefined();
    expect(envVariableProblem('RUNWARDEN_SERVER_ADDRESS_FILE')).toBe(
      'RUNWARDEN_SERVER_ADDRESS_FILE: unknown environment variable (only secrets take _FILE; did you mean RUNWARDEN_SERVER_ADDRESS?)',
    );
  });

  it('a list option cannot come from the environment, and says where it goes instead', () => {
    expect(envVariableProblem('RUNWARDEN_SERVICES')).toBe(
      'RUNWARDEN_SERVICES: services is a list; set it in the config file (lists have no environment variable)',
    );
  });

  it('every option variable and the allow-listed test hooks pass, and leave the config untouched', () => {
    expect(envVariableProblem('RUNWARDEN_SERVER_ADDRESS')).toBeUndefined();
    expect(envVariableProblem('RUNWARDEN_TEST_RESTORE_PAUSE_AT')).toBeUndefined();
    const { config } = loadConfig({
      path: emptyConfig(),
      env: { RUNWARDEN_TEST_RESTORE_PAUSE_AT: 'renamed', NOT_OURS: 'x' },
    });
    expect(config.server.address).toBe('127.0.0.1:9464');
  });

  it('every RUNWARDEN_ variable read or set in src/, test/, bench/ and scripts/ exists', () => {
    const self = fileURLToPath(import.meta.url);
    const files = ['src', 'test', 'bench', 'scripts']
      .flatMap((dir) => walk(path.join(root, dir)))
      .filter((file) => file !== self);
    const named = namesIn(files);
    expect(named.size).toBeGreaterThan(5);
    expect(problemsFor(named)).toEqual([]);
  });

  it('every RUNWARDEN_ variable named in the README, unit, Dockerfile and example files exists', () => {
    const files = [
      'README.md',
      'Dockerfile',
      ...walk(path.join(root, 'systemd')).map((file) => path.relative(root, file)),
      ...walk(path.join(root, 'config')).map((file) => path.relative(root, file)),
    ].map((file) => path.join(root, file));
    const named = namesIn(files);
    expect(named.has('RUNWARDEN_ALERTS_BEARER_TOKEN')).toBe(true);
    expect(problemsFor(named)).toEqual([]);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === 'node_modules' || name === 'out' || name.startsWith('.')) return [];
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** Every RUNWARDEN_ name in `files` with the file naming it; placeholders (`RUNWARDEN_<PATH>_FILE`, `RUNWARDEN_..._FILE`, the bare prefix) aside. */
function namesIn(files: string[]): Map<string, string> {
  const named = new Map<string, string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/RUNWARDEN_[A-Za-z0-9_]*/g)) {
      const next = text[match.index + match[0].length];
      if (match[0] === 'RUNWARDEN_' || next === '<' || next === '.' || next === '$') continue;
      if (!named.has(match[0])) named.set(match[0], path.relative(root, file));
    }
  }
  return named;
}

function problemsFor(named: Map<string, string>): string[] {
  return [...named].flatMap(([name, file]) => {
    const problem = envVariableProblem(name);
    return problem ? [`${file}: ${problem}`] : [];
  });
}
