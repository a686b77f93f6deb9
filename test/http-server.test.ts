import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { healthRoutes, metricsRoute } from '../src/http/routes/health.js';
import { json } from '../src/http/router.js';
import { HttpServer } from '../src/http/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const silentLogger = createLogger({
  format: 'json',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

async function start(problems: () => string[] = () => [], bodyLimitBytes = 64): Promise<string> {
  const metrics = createMetrics(new Registry());
  const server = new HttpServer({
    address: '127.0.0.1:0',
    bodyLimitBytes,
    requestTimeoutMs: 5_000,
    logger: silentLogger,
    routes: [
      metricsRoute(metrics.registry),
      ...healthRoutes({ problems }),
      {
        method: 'POST',
        path: '/echo',
        handler: async (context) => json(200, { size: (await context.readBody()).length }),
      },
    ],
  });
  servers.push(server);
  return `http://${await server.listen()}`;
}

/** Minimal check of the Prometheus text format: every sample line is `name{labels} value`. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}

describe('HttpServer', () => {
  it('serves metrics in the Prometheus text format with build info and process metrics', async () => {
    const base = await start();
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await response.text());
    const buildInfo = [...samples.entries()].find(([name]) => name.startsWith('runwarden_build_info{'));
    expect(buildInfo?.[1]).toBe(1);
    expect(buildInfo?.[0]).toMatch(/version="\d+\.\d+\.\d+"/);
    expect(samples.has('process_cpu_user_seconds_total')).toBe(true);
  });

  it('compresses /metrics with gzip when the scraper asks, and only then', async () => {
    const base = await start();
    const raw = async (acceptEncoding?: string) => {
      const response = await request(`${base}/metrics`, {
        headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding },
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      return { headers: response.headers, body };
    };
    // Prometheus' own header.
    const zipped = await raw('gzip');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('Accept-Encoding');
    const unzipped = gunzipSync(zipped.body).toString('utf8');
    expect(parseExposition(unzipped).has('process_cpu_user_seconds_total')).toBe(true);
    const plain = await raw();
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toContain('# TYPE runwarden_build_info gauge');
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    // Refused explicitly: identity.
    expect((await raw('gzip;q=0, identity')).headers['content-encoding']).toBeUndefined();
  });

  it('answers /healthz, and /readyz 503 with the reasons once not ready', async () => {
    let problems: string[] = [];
    const base = await start(() => problems);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    problems = ['state store is closed'];
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, problems: ['state store is closed'] });
  });

  it('answers 404 for unknown paths and 405 for a wrong method', async () => {
    const base = await start();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('refuses a body over the limit with 413, declared or streamed', async () => {
    const base = await start(undefined, 64);
    expect((await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(10) })).status).toBe(200);
    expect((await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(65) })).status).toBe(413);
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(10)));
        controller.close();
      },
    });
    const streamed = await fetch(`${base}/echo`, {
      method: 'POST',
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });
});
