import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { daemonReady, exitWithin, type SpawnedCli, spawnCli } from './helpers/cli.js';
import { PROCESS_START, SLOWDOWN, stopDeadline } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { httpsRequest, makeCa, makeCert, type Pem } from './helpers/tls-certs.js';
import { waitFor, waitForPoint } from './helpers/cli.js';

// The built daemon with server.tls: certificates renewed on disk are served without a restart,
// when the files change and on SIGHUP (systemd's ExecReload), and a bad renewal changes nothing.

const tempDir = useTempDir();
const daemons: SpawnedCli[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0)) {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
});

function replaceFile(source: string, target: string): void {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}

interface Setup {
  dir: string;
  ca: Pem;
  config: string;
}

/** A config with TLS files given relative to it (live.pem, live.key), holding serial 5001. */
function setup(checkInterval: string): Setup {
  const dir = tempDir();
  const ca = makeCa(path.join(dir, 'ca'));
  const first = makeCert(ca, path.join(dir, 'made'), 'first', { serial: '5001', usage: 'server' });
  copyFileSync(first.cert, path.join(dir, 'live.pem'));
  copyFileSync(first.key, path.join(dir, 'live.key'));
  const config = path.join(dir, 'runwarden.yaml');
  writeFileSync(
    config,
    [
      'state_dir: ./state',
      'backup: { enabled: false }',
      'shutdown: { grace_period: 5s }',
      'log: { format: json }',
      'server:',
      '  address: "127.0.0.1:0"',
      `  tls: { cert_file: live.pem, key_file: live.key, check_interval: ${checkInterval} }`,
      '',
    ].join('\n'),
  );
  return { dir, ca, config };
}

async function startDaemon(config: string): Promise<{ daemon: SpawnedCli; base: string }> {
  const daemon = spawnCli(['daemon', '--config', config]);
  daemons.push(daemon);
  return { daemon, base: `https://${await daemonReady(daemon)}` };
}

function logLines(daemon: SpawnedCli): Array<Record<string, unknown>> {
  return daemon.output.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

async function servedSerial(base: string, ca: Pem): Promise<string> {
  return (await httpsRequest(`${base}/healthz`, { ca: ca.cert })).serial;
}

describe('daemon with server.tls', () => {
  it('serves renewed files once they change, without a restart', async () => {
    const checkMs = 200;
    const { dir, ca, config } = setup(`${checkMs}ms`);
    const { daemon, base } = await startDaemon(config);
    expect(await servedSerial(base, ca)).toBe('5001');
    const renewed = makeCert(ca, path.join(dir, 'made'), 'renewed', { serial: '5002', usage: 'server' });
    replaceFile(renewed.key, path.join(dir, 'live.key'));
    replaceFile(renewed.cert, path.join(dir, 'live.pem'));
    await waitFor(
      async () => ((await servedSerial(base, ca)) === '5002' ? true : undefined),
      'the renewed certificate (serial 5002)',
      { ms: 2 * checkMs * SLOWDOWN, basis: `two check_interval (${checkMs} ms) cycles x SLOWDOWN` },
    );
    daemon.child.kill('SIGTERM');
    expect((await exitWithin(daemon, stopDeadline(loadConfig({ path: config, env: {} }).config))).code).toBe(
      0,
    );
  });

  it('reloads on SIGHUP and keeps running; a bad certificate on SIGHUP keeps the old one and logs the file', async () => {
    // Files are checked hourly here, so only SIGHUP can explain a reload.
    const { dir, ca, config } = setup('1h');
    const { daemon, base } = await startDaemon(config);
    const live = path.join(dir, 'live.pem');

    writeFileSync(path.join(dir, 'garbage.pem'), 'not a certificate\n');
    replaceFile(path.join(dir, 'garbage.pem'), live);
    daemon.child.kill('SIGHUP');
    const failure = await waitForPoint(
      daemon,
      () => logLines(daemon).find((line) => String(line.message).startsWith('TLS certificate reload failed')),
      'the failed reload to be logged',
    );
    expect(failure).toMatchObject({ level: 'error', reason: 'SIGHUP', file: live });
    expect(await servedSerial(base, ca)).toBe('5001');

    const renewed = makeCert(ca, path.join(dir, 'made'), 'renewed', { serial: '5003', usage: 'server' });
    replaceFile(renewed.key, path.join(dir, 'live.key'));
    replaceFile(renewed.cert, live);
    daemon.child.kill('SIGHUP');
    await waitForPoint(
      daemon,
      () => logLines(daemon).find((line) => line.message === 'TLS certificate reloaded'),
      'the reload to be logged',
    );
    expect(await servedSerial(base, ca)).toBe('5003');
    expect(daemon.child.exitCode).toBeNull();
  });

  it('does not start with an unreadable certificate: exit 2 naming the option and the path', async () => {
    const { dir, config } = setup('1m');
    const missing = path.join(dir, 'live.pem');
    renameSync(missing, path.join(dir, 'elsewhere.pem'));
    const daemon = spawnCli(['daemon', '--config', config]);
    daemons.push(daemon);
    expect((await exitWithin(daemon, PROCESS_START)).code).toBe(2);
    expect(daemon.output.stderr).toContain(`server.tls.cert_file: ${missing}: cannot be read (ENOENT)`);
  });
});
