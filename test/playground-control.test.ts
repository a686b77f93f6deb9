import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { v2 } from '@google-cloud/run';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientOptions, type Playground, startPlayground } from '../src/playground/index.js';
import { runCli, spawnCli, waitForPoint } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/** A parsed JSON answer, read loosely: the test asserts on its shape. */
// biome-ignore lint/suspicious/noExplicitAny: control API answers are checked by the assertions
type Json = any;

async function call(base: string, route: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${base}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

describe('playground: the HTTP control API', () => {
  let playground: Playground;

  beforeAll(async () => {
    playground = await startPlayground(
      { services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 0 },
    );
  });

  afterAll(async () => {
    await playground?.stop();
  });

  it('deploys with --no-traffic and a tag, changes behaviour, sets traffic and drives users', async () => {
    const base = playground.controlUrl;
    const stable = playground.revisions('shop')[0]!.name;
    const deployed = await call(base, '/deploy', {
      service: 'shop',
      behaviour: 'failing-health',
      noTraffic: true,
      tag: 'canary',
    });
    expect(deployed.status).toBe(200);
    const candidate = deployed.json.revision as string;

    const state = await call(base, '/state');
    expect(state.json.services[0].traffic).toEqual([
      { type: 'REVISION', revision: stable, percent: 100 },
      {
        type: 'REVISION',
        revision: candidate,
        percent: 0,
        tag: 'canary',
        uri: expect.stringMatching(/^http:/),
      },
    ]);

    const health = await fetch(`${playground.tagUrl('shop', 'canary')}/health`);
    expect(health.status).toBe(503);
    expect((await call(base, '/behaviour', { revision: candidate, behaviour: 'healthy' })).status).toBe(200);
    expect((await fetch(`${playground.tagUrl('shop', 'canary')}/health`)).status).toBe(200);

    const traffic = await call(base, '/traffic', {
      service: 'shop',
      traffic: [{ revision: candidate, percent: 100, tag: 'canary' }],
    });
    expect(traffic.status).toBe(200);
    const driven = await call(base, '/drive', { service: 'shop', rps: 200, durationMs: 100 });
    expect(driven.json).toMatchObject({ sent: 20, byRevision: { [candidate]: { '200': 20 } }, failed: 0 });

    const served = await call(base, `/served?revision=${candidate}`);
    expect(served.json).toEqual([
      { service: 'shop', revision: candidate, code: 200, count: 21 },
      { service: 'shop', revision: candidate, code: 503, count: 1 },
    ]);
  });

  it('injects and clears faults', async () => {
    const base = playground.controlUrl;
    const injected = await call(base, '/faults', { method: 'UpdateService', code: 'UNAVAILABLE', times: 3 });
    expect(injected.json).toEqual({ pending: { UpdateService: 3 } });
    expect((await call(base, '/faults/clear', {})).json).toEqual({ pending: {} });
  });

  it('refuses bad input with 400 or 404 and a message naming it, changing nothing', async () => {
    const base = playground.controlUrl;
    const before = await call(base, '/state');
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['/deploy', { service: 'shop', behaviour: 'sluggish' }, 400, /behaviour/],
      ['/deploy', { service: 'shop', colour: 'red' }, 400, /colour/],
      ['/behaviour', { revision: 'shop-09999-zzz', behaviour: 'healthy' }, 404, /shop-09999-zzz/],
      ['/traffic', { service: 'shop', traffic: [{ latest: true, percent: 50 }] }, 400, /add up to 100/],
      ['/traffic', { service: 'nope', traffic: [{ latest: true, percent: 100 }] }, 404, /service nope/],
      ['/faults', { method: 'DeleteService', code: 'UNAVAILABLE' }, 400, /DeleteService/],
      ['/drive', { service: 'shop', rps: 0, durationMs: 10 }, 400, /rps/],
    ];
    for (const [route, body, status, message] of cases) {
      const answer = await call(base, route, body);
      expect(answer.status, `${route} ${JSON.stringify(body)}`).toBe(status);
      expect(answer.json.error.message).toMatch(message);
    }
    const broken = await fetch(`${base}/deploy`, { method: 'POST', body: '{not json' });
    expect(broken.status).toBe(400);
    expect((await call(base, '/state')).json).toEqual(before.json);
  });

  it('serves Prometheus text with the per-revision request counters on the service URL', async () => {
    await playground.driveTraffic('shop', { rps: 100, durationMs: 30 });
    const text = await (await fetch(`${playground.serviceUrl('shop')}/metrics`)).text();
    const served = playground.servedRequests({ service: 'shop' });
    for (const { revision, code, count } of served) {
      expect(text).toContain(
        `emulated_requests_total{service="shop",revision="${revision}",code="${code}"} ${count}`,
      );
    }
  });
});

describe('playground: scenarios', () => {
  it('refuses a bad scenario, naming every problem with its path', async () => {
    await expect(
      startPlayground({ services: [{ name: 'Shop', revisions: [{ behaviour: { errorRate: 2 } }] }] }),
    ).rejects.toMatchObject({
      code: 'RW_CONFIG',
      problems: [
        expect.stringMatching(/^scenario\.services\.0\.name: /),
        expect.stringMatching(/^scenario\.services\.0\.revisions\.0\.behaviour/),
      ],
    });
  });

  it('refuses scenario traffic that names an unknown revision', async () => {
    await expect(
      startPlayground({
        services: [{ name: 'shop', traffic: [{ revision: 'shop-00009-zzz', percent: 100 }] }],
      }),
    ).rejects.toThrow(/shop-00009-zzz/);
  });
});

describe('runwarden playground (the built CLI)', () => {
  it('starts from a scenario file, prints its endpoints as JSON, serves the real client, stops on SIGTERM', async () => {
    const file = path.join(tempDir(), 'scenario.yaml');
    writeFileSync(
      file,
      [
        'project: cli-project',
        'region: europe-west1',
        'services:',
        '  - name: shop',
        '    revisions:',
        '      - { name: shop-00001-one, behaviour: healthy }',
        '      - { name: shop-00002-two, behaviour: errors }',
        '    traffic:',
        '      - { revision: shop-00001-one, percent: 100 }',
        '      - { latest: true, percent: 0, tag: canary }',
        '',
      ].join('\n'),
    );
    const cli = spawnCli([
      'playground',
      '--scenario',
      file,
      '--port',
      '0',
      '--control-port',
      '0',
      '--storage-port',
      '0',
      '--json',
    ]);
    try {
      const state = await waitForPoint(
        cli,
        () => {
          try {
            return JSON.parse(cli.output.stdout) as {
              grpc_endpoint: string;
              services: Array<{ url: string }>;
            };
          } catch {
            return undefined;
          }
        },
        'the JSON description',
      );
      const [host, port] = state.grpc_endpoint.split(':');
      const services = new v2.ServicesClient(emulatorClientOptions({ host: host!, port: Number(port) }));
      try {
        const [service] = await services.getService({
          name: 'projects/cli-project/locations/europe-west1/services/shop',
        });
        expect(service.uri).toBe(state.services[0]!.url);
        expect(service.trafficStatuses?.map((status) => status.revision)).toEqual([
          'shop-00001-one',
          'shop-00002-two',
        ]);
      } finally {
        await services.close();
      }
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('exits 2 on a scenario file with a mistake, naming it', () => {
    const file = path.join(tempDir(), 'bad.yaml');
    writeFileSync(file, 'services:\n  - name: shop\n    revisions: [{ behaviour: sluggish }]\n');
    const result = runCli([
      'playground',
      '--scenario',
      file,
      '--port',
      '0',
      '--control-port',
      '0',
      '--storage-port',
      '0',
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${file}.services.0.revisions.0.behaviour`);
  });
});
