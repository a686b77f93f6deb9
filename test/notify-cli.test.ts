import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { spawnCli } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';
import { FAST_SERVICE } from './helpers/watch-harness.js';

const tempDir = useTempDir();
let playground: Playground | undefined;
let server: Server | undefined;
afterEach(async () => {
  await playground?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

describe('notifications from the command line', () => {
  it("announces a person's promotion to the service's notify target, like the daemon's own", async () => {
    const received: Array<{ title: string; details: { trigger: string; candidate: string } }> = [];
    server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

    playground = await startPlayground(
      { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 200 },
    );
    const tested = await playground.deploy('shop', { behaviour: 'healthy', noTraffic: true, tag: 'green' });
    const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    const dir = tempDir();
    const configFile = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      configFile,
      stringify({
        state_dir: './state',
        log: { level: 'warn', format: 'json' },
        backup: { enabled: false },
        cloud_run: { endpoint, insecure: true, retry_deadline: '5s', operation_timeout: '10s' },
        monitoring: { endpoint, insecure: true, alignment_period: '1s', reporting_delay: '1s' },
        notify: { targets: [{ name: 'ops', type: 'webhook', url: hook, events: ['promotion'] }] },
        services: [
          {
            project: playground.project,
            region: playground.region,
            service: 'shop',
            ...FAST_SERVICE,
            notify: ['ops'],
          },
        ],
      }),
    );

    const promote = spawnCli(['promote', '--service', 'shop', '--revision', tested, '--config', configFile]);
    const { code } = await promote.exited;
    expect(code, promote.output.stderr).toBe(0);
    expect(playground.traffic('shop').find((entry) => entry.revision === tested)?.percent).toBe(100);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      title: `${tested} is now the stable revision of shop`,
      details: { trigger: 'manual', candidate: tested },
    });
  });
});
