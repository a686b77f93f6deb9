import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Behaviour, OutcomePicker } from './behaviour.js';
import { CLOUD_RUN_IDLE_KEEP_ALIVE_MS } from '../signals/health-probe.js';
import { RequestLog } from './request-log.js';

/** The header every emulated response carries, naming the revision that served it. */
export const REVISION_HEADER = 'x-playground-revision';

export interface RevisionAppOptions {
  /** Short revision name, as in traffic targets (`shop-00002-xyz`). */
  revision: string;
  behaviour: Behaviour;
  host: string;
  samplePeriodMs: number;
  clock: () => number;
}

/**
 * One emulated revision: a real HTTP server on loopback that answers by its behaviour and counts
 * what it served. GET /health is the health endpoint; every other path is "the app".
 */
export class RevisionApp {
  readonly revision: string;
  readonly log: RequestLog;
  behaviour: Behaviour;
  readonly #server: Server;
  readonly #picker = new OutcomePicker();
  readonly #clock: () => number;
  #url = '';

  private constructor(options: RevisionAppOptions) {
    this.revision = options.revision;
    this.behaviour = options.behaviour;
    this.#clock = options.clock;
    this.log = new RequestLog(options.samplePeriodMs);
    // Idle connections are kept as long as Cloud Run's front end keeps them, so a client that
    // reuses its connections (the prober does, across probe intervals) meets here what it would there.
    this.#server = createServer({ keepAliveTimeout: CLOUD_RUN_IDLE_KEEP_ALIVE_MS }, (req, res) =>
      this.#handle(req, res),
    );
  }

  static async start(options: RevisionAppOptions): Promise<RevisionApp> {
    const app = new RevisionApp(options);
    await new Promise<void>((resolve, reject) => {
      app.#server.once('error', reject);
      app.#server.listen(0, options.host, () => resolve());
    });
    const address = app.#server.address() as AddressInfo;
    app.#url = `http://${options.host}:${address.port}`;
    return app;
  }

  /** Base URL of this revision's own server (what Cloud Run would call the revision URL). */
  get url(): string {
    return this.#url;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // The body is never needed; drain it so keep-alive connections stay usable.
    req.resume();
    const arrived = performance.now();
    const behaviour = this.behaviour;
    const path = (req.url ?? '/').split('?')[0];
    const health = behaviour.healthStatus ?? (behaviour.healthy ? 200 : 503);
    const code = path === '/health' ? health : this.#picker.next(behaviour);
    const respond = () => {
      if (res.destroyed) return;
      this.log.record(code, this.#clock(), behaviour, performance.now() - arrived);
      const body = JSON.stringify({ revision: this.revision, status: code });
      res.writeHead(code, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        [REVISION_HEADER]: this.revision,
      });
      res.end(body);
    };
    if (behaviour.latencyMs <= 0) {
      respond();
      return;
    }
    // A slow revision (behaviour.latencyMs) answers late, and its latencies say so.
    // Unref'd, so a slow revision never holds the process open after the playground stops.
    setTimeout(respond, behaviour.latencyMs).unref();
  }
}
