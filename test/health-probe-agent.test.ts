import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_AGENT_OPTIONS, PROBE_USER_AGENT, UndiciHealthProber } from '../src/signals/health-probe.js';
import { VERSION } from '../src/version.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listen(handler: Parameters<typeof createServer>[1]) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('health probe User-Agent', () => {
  it('every probe says it is runwarden, with its version, so the app can tell probes from users', async () => {
    const seen: Array<string | undefined> = [];
    const { base } = await listen((req, res) => {
      seen.push(req.headers['user-agent']);
      res.writeHead(req.url === '/health' ? 200 : 503).end();
    });
    const prober = new UndiciHealthProber();
    closers.push(() => prober.close());
    const signal = new AbortController().signal;
    expect((await prober.probe(`${base}/health`, 5_000, signal)).ok).toBe(true);
    expect((await prober.probe(`${base}/broken`, 5_000, signal)).ok).toBe(false);
    expect(PROBE_USER_AGENT).toBe(`runwarden/${VERSION} probe`);
    expect(seen).toEqual([`runwarden/${VERSION} probe`, `runwarden/${VERSION} probe`]);
  });
});

describe('health probes share one bounded connection pool', () => {
  it('ten probes of one origin at once share one connection, and every probe is answered', async () => {
    let open = 0;
    let mostOpen = 0;
    let requests = 0;
    let mostInFlight = 0;
    let inFlight = 0;
    const held: ServerResponse[] = [];
    const { server, base } = await listen((_req, res) => {
      requests += 1;
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      res.on('finish', () => {
        inFlight -= 1;
      });
      held.push(res);
    });
    server.on('connection', (socket) => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      socket.on('close', () => {
        open -= 1;
      });
    });
    const prober = new UndiciHealthProber();
    closers.push(() => prober.close());
    const signal = new AbortController().signal;
    const probes = Array.from({ length: 10 }, () => prober.probe(`${base}/health`, 30_000, signal));
    // Answer requests as they arrive, one at a time: the pool must queue the rest, not open more.
    let answered = 0;
    while (answered < 10) {
      const res = await waitFor(
        () => held.shift(),
        `request ${answered + 1} of 10 to reach the server`,
        WORK_BACKSTOP,
      );
      res.writeHead(200).end('ok');
      answered += 1;
    }
    const results = await Promise.all(probes);
    expect(results.every((result) => result.ok && result.status === 200)).toBe(true);
    expect(requests).toBe(10);
    expect(PROBE_AGENT_OPTIONS.connections).toBe(1);
    expect(mostOpen).toBe(1);
    expect(mostInFlight).toBe(1);
    // Short keep-alive: the idle connections are closed by the prober without the server's help.
    await waitFor(
      () => (open === 0 ? true : undefined),
      'the idle probe connections to close',
      WORK_BACKSTOP,
    );
  });

  it('probes of different origins do not wait on each other', async () => {
    const servers = await Promise.all([0, 1, 2].map(() => listen((_req, res) => res.writeHead(204).end())));
    const prober = new UndiciHealthProber();
    closers.push(() => prober.close());
    const signal = new AbortController().signal;
    const results = await Promise.all(
      servers.map(({ base }) => prober.probe(`${base}/health`, 30_000, signal)),
    );
    expect(results.map((result) => result.status)).toEqual([204, 204, 204]);
  });
});
