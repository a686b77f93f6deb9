import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localUrl } from '../src/core/local-url.js';
import { daemonReady, runCli, type SpawnedCli, spawnCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';
import { makeCa, makeCert } from './helpers/tls-certs.js';

// `runwarden healthcheck` is what the Docker image's HEALTHCHECK runs: it must reach the built
// daemon whether it serves plain HTTP or TLS (a plain http:// fetch failed against server.tls, so
// the container was marked unhealthy and restarted for nothing), and fail with the URL it tried.

const tempDir = useTempDir('runwarden-healthcheck-');
const daemons: SpawnedCli[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0)) {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
});

function writeConfig(dir: string, server: string[]): string {
  const file = path.join(dir, 'runwarden.yaml');
  const lines = ['state_dir: ./state', 'backup: { enabled: false }', 'log: { format: json }', 'server:'];
  writeFileSync(file, [...lines, ...server, ''].join('\n'));
  return file;
}

async function startDaemon(config: string): Promise<{ daemon: SpawnedCli; address: string }> {
  const daemon = spawnCli(['daemon', '--config', config]);
  daemons.push(daemon);
  return { daemon, address: await daemonReady(daemon) };
}

describe('localUrl', () => {
  it('reaches wildcard addresses over loopback, keeps named hosts, and knows no port 0', () => {
    expect(localUrl('0.0.0.0:9464', false, '/healthz')).toBe('http://127.0.0.1:9464/healthz');
    expect(localUrl('[::]:9464', true, '/healthz')).toBe('https://[::1]:9464/healthz');
    expect(localUrl('10.0.0.5:80', false, '/healthz')).toBe('http://10.0.0.5:80/healthz');
    expect(localUrl('127.0.0.1:0', false, '/healthz')).toBeUndefined();
  });
});

describe('runwarden healthcheck', () => {
  it('exits 0 against a plain HTTP daemon and 1 naming the URL once it is gone', async () => {
    const config = writeConfig(tempDir(), ['  address: "127.0.0.1:0"']);
    const { daemon, address } = await startDaemon(config);
    const healthy = runCli(['healthcheck', '--config', config, '--address', address]);
    expect(healthy.stdout).toBe(`http://${address}/healthz: ok\n`);
    expect(healthy.status).toBe(0);

    daemon.child.kill('SIGTERM');
    await daemon.exited;
    const gone = runCli(['healthcheck', '--config', config, '--address', address]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain(`http://${address}/healthz: `);
  });

  it('speaks TLS when server.tls is set, to a certificate of a CA this host does not trust', async () => {
    const dir = tempDir();
    const ca = makeCa(path.join(dir, 'ca'));
    const cert = makeCert(ca, path.join(dir, 'made'), 'public', { serial: '7001', usage: 'server' });
    const config = writeConfig(dir, [
      '  address: "127.0.0.1:0"',
      `  tls: { cert_file: ${cert.cert}, key_file: ${cert.key} }`,
    ]);
    const { address } = await startDaemon(config);
    const result = runCli(['healthcheck', '--config', config, '--address', address]);
    expect(result.stdout).toBe(`https://${address}/healthz: ok\n`);
    expect(result.status).toBe(0);
  });

  it('refuses port 0 without --address, and a malformed --address or --timeout, with exit 2', () => {
    const config = writeConfig(tempDir(), ['  address: "127.0.0.1:0"']);
    const portZero = runCli(['healthcheck', '--config', config]);
    expect(portZero.status).toBe(2);
    expect(portZero.stderr).toContain('server.address 127.0.0.1:0 has port 0');
    const badAddress = runCli(['healthcheck', '--config', config, '--address', 'localhost']);
    expect(badAddress.status).toBe(2);
    expect(badAddress.stderr).toContain('--address: expected host:port');
    const badTimeout = runCli([
      'healthcheck',
      '--config',
      config,
      '--address',
      '127.0.0.1:1',
      '--timeout',
      '2s',
    ]);
    expect(badTimeout.status).toBe(2);
    expect(badTimeout.stderr).toContain('--timeout: expected a whole number of milliseconds, got "2s"');
  });
});
