import { PROCESS_START } from './helpers/deadlines.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, waitFor } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const PRELOAD = fileURLToPath(new URL('./helpers/loaded-packages.cjs', import.meta.url));

const tempDir = useTempDir('runwarden-google-auth-');

/**
 * A stand-in for the GCE metadata server on loopback that counts every connection and drops it:
 * a probe would fail at once, here, with the same MetadataLookupWarning a laptop shows, and be
 * counted. Pointing GCE_METADATA_HOST at it keeps every probe off the network.
 */
describe('Google auth is not touched when nothing needs it', () => {
  let server: Server;
  let connections = 0;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = createServer();
    server.on('connection', (socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // METADATA_SERVER_DETECTION unset, as on a newcomer's machine.
    env = {
      METADATA_SERVER_DETECTION: '',
      GCE_METADATA_HOST: `127.0.0.1:${port}`,
      GCE_METADATA_IP: `127.0.0.1:${port}`,
    };
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('`status` with no services', async () => {
    connections = 0;
    const status = spawnCli(['status'], { cwd: tempDir(), env });
    expect((await status.exited).code, status.output.stderr).toBe(0);
    expect(status.output.stdout).toContain('no services are configured');
    expect(status.output.stderr).not.toContain('MetadataLookupWarning');
    expect(connections).toBe(0);
  });

  it('a daemon with no services, from start to stop, loads no Google client', async () => {
    connections = 0;
    const dir = tempDir();
    const config = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      config,
      'state_dir: ./state\nserver: { address: "127.0.0.1:0" }\nlog: { format: json }\nbackup: { enabled: false }\n',
    );
    const loaded = path.join(dir, 'loaded-packages.json');
    const daemon = spawnCli(['daemon', '--config', config], {
      env: { ...env, NODE_OPTIONS: `--require ${PRELOAD}`, LOADED_PACKAGES_OUT: loaded },
    });
    const address = await waitFor(
      () => {
        const ready = daemon.output.stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { message: string; address?: string })
          .find((line) => line.message === 'runwarden daemon ready');
        return ready?.address;
      },
      'the daemon to be ready',
      PROCESS_START,
    );
    expect((await fetch(`http://${address}/metrics`)).status).toBe(200);
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code, daemon.output.stderr).toBe(0);
    expect(daemon.output.stderr).not.toContain('MetadataLookupWarning');
    expect(connections).toBe(0);
    // Tens of MB of RSS each: a daemon that watches no service never pays for them.
    const packages = JSON.parse(readFileSync(loaded, 'utf8')) as string[];
    expect(packages).toContain('better-sqlite3');
    expect(packages.filter((name) => /^@google-cloud\/|^@grpc\/|^google-gax$/.test(name))).toEqual([]);
  });
});
