import { createServer, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLOUD_RUN_IDLE_KEEP_ALIVE_MS,
  PROBE_USER_AGENT,
  probeAgentOptions,
  probeKeepAliveMs,
  UndiciHealthProber,
} from '../src/signals/health-probe.js';
import { sleep } from '../src/util/sleep.js';
import { VERSION } from '../src/version.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listen(handler: Parameters<typeof createServer>[1], options: ServerOptions = {}) {
  const server = createServer(options, handler);
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
    // A short keep-alive, so the test sees the prober close idle connections on its own.
    const prober = new UndiciHealthProber(Date.now, 300);
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
    expect(probeAgentOptions(300).connections).toBe(1);
    expect(mostOpen).toBe(1);
    expect(mostInFlight).toBe(1);
    // Past its keep-alive, an idle connection is closed by the prober without the server's help.
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

describe('health probes keep their connection across probe intervals', () => {
  it('keeps an idle connection twice the longest probe interval, and closes it before Cloud Run would', () => {
    expect(probeKeepAliveMs(5_000)).toBe(10_000);
    expect(probeKeepAliveMs(10_000)).toBe(20_000);
    // A probe every 10 minutes: kept just under the front end's 610 s, so the prober closes first.
    expect(probeKeepAliveMs(600_000)).toBe(CLOUD_RUN_IDLE_KEEP_ALIVE_MS - 10_000);
    expect(probeAgentOptions(probeKeepAliveMs(5_000))).toMatchObject({
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 10_000,
    });
  });

  it('probes one interval apart reuse one connection to a server that keeps it as Cloud Run does', async () => {
    // Longer than the 2 s keep-alive the prober had until December 2026, which opened a new
    // connection for every probe at any interval over 2 s.
    const intervalMs = 2_500;
    let connections = 0;
    let requests = 0;
    const { server, base } = await listen(
      (_req, res) => {
        requests += 1;
        res.writeHead(200).end('ok');
      },
      { keepAliveTimeout: CLOUD_RUN_IDLE_KEEP_ALIVE_MS },
    );
    server.on('connection', () => {
      connections += 1;
    });
    const prober = new UndiciHealthProber(Date.now, probeKeepAliveMs(intervalMs));
    closers.push(() => prober.close());
    const signal = new AbortController().signal;
    for (let probe = 0; probe < 3; probe++) {
      // The gap the probe scheduler leaves between two probes of one service.
      if (probe > 0) await sleep(intervalMs, signal);
      const result = await prober.probe(`${base}/health`, 5_000, signal);
      expect(result).toMatchObject({ ok: true, status: 200 });
    }
    expect(requests).toBe(3);
    expect(connections).toBe(1);
  });
});

describe('a probe ends with its caller', () => {
  it('a probe in flight rejects with the reason its signal aborts with, and a probe of an aborted signal never starts', async () => {
    let requests = 0;
    const { base } = await listen(() => {
      requests += 1; // never answered: only the abort ends the probe
    });
    const prober = new UndiciHealthProber();
    closers.push(() => prober.close());
    const controller = new AbortController();
    const probe = prober.probe(`${base}/health`, 60_000, controller.signal);
    await waitFor(() => (requests === 1 ? true : undefined), 'the probe to reach the server', WORK_BACKSTOP);
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(probe).rejects.toBe(reason);
    await expect(prober.probe(`${base}/health`, 60_000, controller.signal)).rejects.toBe(reason);
    expect(requests).toBe(1);
  });
});
