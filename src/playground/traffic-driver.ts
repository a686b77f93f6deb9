import { Agent, request } from 'node:http';
import { sleep } from '../util/sleep.js';
import { REVISION_HEADER } from './revision-app.js';

/** Simulated users: `rps` requests per second for `durationMs`, to `url` + `path`. */
export interface DriveOptions {
  rps: number;
  durationMs: number;
  /** Request path; `/` when omitted. */
  path?: string;
  /** At most this many requests in flight (a slow revision must not pile up sockets); 256 by default. */
  maxInFlight?: number;
  signal?: AbortSignal;
}

/** What the simulated users saw. `sent` = sum of byCode + failed. */
export interface DriveSummary {
  sent: number;
  /** Responses by HTTP status code. */
  byCode: Record<string, number>;
  /** Responses by the revision that served them, then by code. */
  byRevision: Record<string, Record<string, number>>;
  /** Requests that got no HTTP response at all. */
  failed: number;
}

/**
 * Sends round(rps * durationMs / 1000) GET requests spread evenly over the duration (request i is
 * due at i / rps seconds), and resolves when every one has been answered. Paced by the clock, so a
 * slow event loop sends late rather than fewer.
 */
export async function driveTraffic(url: string, options: DriveOptions): Promise<DriveSummary> {
  if (!(options.rps > 0) || !(options.durationMs >= 0)) {
    throw new RangeError(
      `drive traffic: rps must be > 0 and durationMs >= 0 (got ${options.rps}, ${options.durationMs})`,
    );
  }
  const total = Math.round((options.rps * options.durationMs) / 1000);
  const maxInFlight = options.maxInFlight ?? 256;
  const target = new URL(options.path ?? '/', url);
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const summary: DriveSummary = { sent: 0, byCode: {}, byRevision: {}, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  try {
    while (summary.sent < total && !options.signal?.aborted) {
      const due = Math.min(total, Math.floor(((performance.now() - started) * options.rps) / 1000) + 1);
      while (summary.sent < due && inFlight.size < maxInFlight) {
        summary.sent += 1;
        const one = send(target, agent, summary).finally(() => inFlight.delete(one));
        inFlight.add(one);
      }
      const nextDue = (summary.sent * 1000) / options.rps - (performance.now() - started);
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      else if (nextDue > 0) await sleep(Math.min(nextDue, 50));
    }
    await Promise.all(inFlight);
  } finally {
    agent.destroy();
  }
  return summary;
}

function send(target: URL, agent: Agent, summary: DriveSummary): Promise<void> {
  return new Promise((resolve) => {
    const req = request(target, { method: 'GET', agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const code = String(res.statusCode ?? 0);
        summary.byCode[code] = (summary.byCode[code] ?? 0) + 1;
        const revision = res.headers[REVISION_HEADER];
        if (typeof revision === 'string') {
          const counts = summary.byRevision[revision] ?? {};
          counts[code] = (counts[code] ?? 0) + 1;
          summary.byRevision[revision] = counts;
        }
        resolve();
      });
      res.on('error', () => fail());
    });
    const fail = () => {
      summary.failed += 1;
      resolve();
    };
    req.on('error', fail);
    req.end();
  });
}
