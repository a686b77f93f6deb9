import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOUD_RUN_IDLE_KEEP_ALIVE_MS } from '../signals/health-probe.js';
import type { Refusal } from './identity.js';

/** Answers a request's Authorization header with a refusal, or undefined to let it through. */
export type Gate = (authorization: string | undefined) => Refusal | undefined;

/** Where the service URL sends requests: revision app URLs with their share of traffic. */
export interface RouteTable {
  split: ReadonlyArray<{ revision: string; percent: number; url: string }>;
  /** Tag -> URL of the revision app the tag points at. */
  tags: ReadonlyMap<string, string>;
}

/**
 * Smooth weighted round robin (as nginx does it): deterministic, and over any 100 consecutive
 * requests each revision gets exactly its percent, interleaved rather than in runs.
 */
export class WeightedPicker<T extends { percent: number }> {
  readonly #targets: readonly T[];
  readonly #current: number[];
  readonly #total: number;

  constructor(targets: readonly T[]) {
    this.#targets = targets;
    this.#current = targets.map(() => 0);
    this.#total = targets.reduce((sum, target) => sum + target.percent, 0);
  }

  pick(): T | undefined {
    let best = -1;
    for (let index = 0; index < this.#targets.length; index += 1) {
      this.#current[index]! += this.#targets[index]!.percent;
      if (best < 0 || this.#current[index]! > this.#current[best]!) best = index;
    }
    if (best < 0 || this.#total <= 0) return undefined;
    this.#current[best]! -= this.#total;
    return this.#targets[best];
  }
}

/**
 * The URLs of one emulated service: the service URL, a real HTTP reverse proxy that sends each
 * request to a revision by the traffic split, and one listener per tag (Cloud Run's
 * `https://TAG---service` URLs) that always reaches the tagged revision. GET /metrics on the service
 * URL is answered by the router itself with `metricsText()`.
 */
export class ServiceRouter {
  readonly #host: string;
  readonly #metricsText: () => string;
  readonly #gate: Gate;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 128 });
  readonly #tagListeners = new Map<string, { server: Server; url: string; target: string }>();
  #main: { server: Server; url: string } | undefined;
  #picker = new WeightedPicker<{ revision: string; percent: number; url: string }>([]);

  private constructor(host: string, metricsText: () => string, gate: Gate) {
    this.#host = host;
    this.#metricsText = metricsText;
    this.#gate = gate;
  }

  static async start(options: {
    host: string;
    metricsText: () => string;
    gate?: Gate;
  }): Promise<ServiceRouter> {
    const router = new ServiceRouter(options.host, options.metricsText, options.gate ?? (() => undefined));
    router.#main = await listen(options.host, (req, res) => router.#handleMain(req, res));
    return router;
  }

  get url(): string {
    return this.#main?.url ?? '';
  }

  tagUrl(tag: string): string | undefined {
    return this.#tagListeners.get(tag)?.url;
  }

  /** Switches to `table`: new split at once; listeners opened for new tags, closed for dropped ones. */
  async route(table: RouteTable): Promise<void> {
    this.#picker = new WeightedPicker(table.split);
    for (const [tag, listener] of this.#tagListeners) {
      if (!table.tags.has(tag)) {
        this.#tagListeners.delete(tag);
        await closeServer(listener.server);
      }
    }
    for (const [tag, target] of table.tags) {
      const existing = this.#tagListeners.get(tag);
      if (existing) {
        existing.target = target;
        continue;
      }
      const entry = { server: undefined as unknown as Server, url: '', target };
      const opened = await listen(this.#host, (req, res) => {
        if (!this.#refused(req, res)) this.#forward(req, res, entry.target);
      });
      entry.server = opened.server;
      entry.url = opened.url;
      this.#tagListeners.set(tag, entry);
    }
  }

  async close(): Promise<void> {
    const servers = [...this.#tagListeners.values()].map((listener) => listener.server);
    if (this.#main) servers.push(this.#main.server);
    this.#tagListeners.clear();
    await Promise.all(servers.map(closeServer));
    this.#agent.destroy();
  }

  #handleMain(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && req.url === '/metrics') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.#metricsText());
      return;
    }
    if (this.#refused(req, res)) return;
    const target = this.#picker.pick();
    if (!target) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('no revision is serving this service\n');
      return;
    }
    this.#forward(req, res, target.url);
  }

  /** A private service's refusal (401/403, as Cloud Run's front end answers), sent; false when let through. */
  #refused(req: IncomingMessage, res: ServerResponse): boolean {
    const refusal = this.#gate(req.headers.authorization);
    if (!refusal) return false;
    req.resume();
    res.writeHead(refusal.status, {
      'content-type': 'text/plain',
      ...(refusal.status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {}),
    });
    res.end(`${refusal.status === 401 ? 'Unauthorized' : 'Forbidden'}: ${refusal.reason}\n`);
    return true;
  }

  #forward(req: IncomingMessage, res: ServerResponse, targetUrl: string): void {
    const target = new URL(targetUrl);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        agent: this.#agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('revision unreachable\n');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

async function listen(
  host: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  // The service and tag URLs keep idle connections as long as Cloud Run's front end does, so the
  // daemon's probes reuse theirs across intervals here as they would on Cloud Run.
  const server = createServer({ keepAliveTimeout: CLOUD_RUN_IDLE_KEEP_ALIVE_MS }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
