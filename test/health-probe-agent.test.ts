import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_USER_AGENT, UndiciHealthProber } from '../src/signals/health-probe.js';
import { VERSION } from '../src/version.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('health probe User-Agent', () => {
  it('every probe says it is runwarden, with its version, so the app can tell probes from users', async () => {
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers['user-agent']);
      res.writeHead(req.url === '/health' ? 200 : 503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const prober = new UndiciHealthProber();
    const signal = new AbortController().signal;
    expect((await prober.probe(`${base}/health`, 5_000, signal)).ok).toBe(true);
    expect((await prober.probe(`${base}/broken`, 5_000, signal)).ok).toBe(false);
    expect(PROBE_USER_AGENT).toBe(`runwarden/${VERSION} probe`);
    expect(seen).toEqual([`runwarden/${VERSION} probe`, `runwarden/${VERSION} probe`]);
  });
});
