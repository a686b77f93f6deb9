import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envNameFor, loadConfig, printableConfig, REDACTED } from '../src/config/load.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function writeConfig(text: string): string {
  const file = path.join(tempDir(), 'runwarden.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('applies the defaults when the file is empty', () => {
    const { config } = loadConfig({ path: writeConfig(''), env: {} });
    expect(config.server.address).toBe('127.0.0.1:9464');
    expect(config.shutdown.grace_period).toBe(30_000);
    expect(config.log.level).toBe('info');
  });

  it('resolves state_dir against the config file folder', () => {
    const file = writeConfig('state_dir: ./here\n');
    const { config } = loadConfig({ path: file, env: {} });
    expect(config.state_dir).toBe(path.join(path.dirname(file), 'here'));
  });

  it('reports every problem at once, each with its path and what was expected', () => {
    const file = writeConfig(
      [
        'server:',
        '  adress: 1.2.3.4:99',
        '  request_timeout: 10 seconds',
        'shutdown:',
        '  grace_period: 5',
        'log:',
        '  level: loud',
        '',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ path: file, env: {} }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'server.adress: unknown key (expected one of: address, body_limit_bytes, request_timeout, trust_proxy, tls)',
        'server.request_timeout: expected a duration like "7d", got "10 seconds"',
        'shutdown.grace_period: expected a duration like "7d", got 5',
        'log.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", got "loud"',
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('rejects an unknown top-level key', () => {
    const problems = problemsOf(() => loadConfig({ path: writeConfig('backups: {}\n'), env: {} }));
    expect(problems[0]).toMatch(/^backups: unknown key \(expected one of: role, state_dir, server/);
  });

  it('reads role and cluster, with the lease defaults, and names a bad role', () => {
    const { config } = loadConfig({
      path: writeConfig('role: watch\ncluster:\n  bucket: app-state\n'),
      env: {},
    });
    expect(config.role).toBe('watch');
    expect(config.cluster).toMatchObject({
      bucket: 'app-state',
      prefix: 'runwarden/cluster/',
      lease_ttl: 15_000,
      lease_margin: 3_000,
      state_copy_delay: 1_000,
    });
    const problems = problemsOf(() => loadConfig({ path: writeConfig('role: sidecar\n'), env: {} }));
    expect(problems[0]).toMatch(/^role: .*"all".*"backup".*"watch"/);
  });

  it('refuses a lease margin that would stop a holder acting before it renews', () => {
    const problems = problemsOf(() =>
      loadConfig({
        path: writeConfig('cluster:\n  bucket: app-state\n  lease_ttl: 6s\n  lease_margin: 3s\n'),
        env: {},
      }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^cluster\.lease_margin: expected `lease_margin` under half/),
    ]);
  });

  it('rejects a port out of range and a malformed address', () => {
    expect(
      problemsOf(() =>
        loadConfig({ path: writeConfig('server: { address: "127.0.0.1:70000" }\n'), env: {} }),
      ),
    ).toEqual(['server.address: expected a port from 0 to 65535, got "127.0.0.1:70000"']);
    expect(
      problemsOf(() => loadConfig({ path: writeConfig('server: { address: localhost }\n'), env: {} })),
    ).toEqual(['server.address: expected an address like "127.0.0.1:9464", got "localhost"']);
  });

  it('names the line of a YAML syntax error', () => {
    const problems = problemsOf(() => loadConfig({ path: writeConfig('server:\n  address: [\n'), env: {} }));
    expect(problems[0]).toMatch(/runwarden\.yaml:\d+:\d+: /);
  });

  it('refuses duplicate keys and a top level that is not a mapping', () => {
    expect(problemsOf(() => loadConfig({ path: writeConfig('log: {}\nlog: {}\n'), env: {} }))[0]).toMatch(
      /unique|duplicate/i,
    );
    expect(problemsOf(() => loadConfig({ path: writeConfig('- a\n- b\n'), env: {} }))).toEqual([
      '(top level): expected a mapping of keys to values',
    ]);
  });

  it('fails clearly when an explicit --config file does not exist', () => {
    const missing = path.join(tempDir(), 'nope.yaml');
    expect(() => loadConfig({ path: missing, env: {} })).toThrow(`config file ${missing}: not found`);
  });

  it('lets environment variables override scalars, with types coerced', () => {
    const { config } = loadConfig({
      path: writeConfig('server: { address: "127.0.0.1:1" }\n'),
      env: {
        RUNWARDEN_SERVER_ADDRESS: '127.0.0.1:2',
        RUNWARDEN_SERVER_BODY_LIMIT_BYTES: '2048',
        RUNWARDEN_SHUTDOWN_GRACE_PERIOD: '1m',
      },
    });
    expect(config.server.address).toBe('127.0.0.1:2');
    expect(config.server.body_limit_bytes).toBe(2048);
    expect(config.shutdown.grace_period).toBe(60_000);
  });

  it('names the environment variable a bad value came from', () => {
    const problems = problemsOf(() =>
      loadConfig({ path: writeConfig(''), env: { RUNWARDEN_SERVER_BODY_LIMIT_BYTES: 'lots' } }),
    );
    expect(problems).toEqual([
      'server.body_limit_bytes: expected number, got "lots" (from RUNWARDEN_SERVER_BODY_LIMIT_BYTES)',
    ]);
  });

  it('derives env names from paths', () => {
    expect(envNameFor('backup.retention.keep_within')).toBe('RUNWARDEN_BACKUP_RETENTION_KEEP_WITHIN');
  });
});

describe('secrets', () => {
  const target = (url: string) => `notify:\n  targets:\n    - name: chat\n      type: slack\n      ${url}\n`;

  it('reads a secret from a *_file key and never prints it', () => {
    const dir = tempDir();
    const secretFile = path.join(dir, 'hook');
    writeFileSync(secretFile, 'https://hooks.example.com/T/B/very-secret\n');
    const file = path.join(dir, 'runwarden.yaml');
    writeFileSync(file, target(`url_file: ${secretFile}`));
    const { config } = loadConfig({ path: file, env: {} });
    expect(config.notify.targets[0]?.url).toBe('https://hooks.example.com/T/B/very-secret');
    const printed = JSON.stringify(printableConfig(config));
    expect(printed).not.toContain('very-secret');
    expect(printed).toContain(REDACTED);
  });

  it('reports a secret file that cannot be read, by its key', () => {
    const problems = problemsOf(() =>
      loadConfig({ path: writeConfig(target('url_file: /nonexistent/hook')), env: {} }),
    );
    expect(problems[0]).toBe('notify.targets[].url_file: cannot read secret file /nonexistent/hook: ENOENT');
  });

  it('prints durations as written, not as milliseconds', () => {
    const { config } = loadConfig({ path: writeConfig('shutdown: { grace_period: 1h30m }\n'), env: {} });
    expect((printableConfig(config) as { shutdown: { grace_period: string } }).shutdown.grace_period).toBe(
      '1h30m',
    );
  });
});
