import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerTlsConfig } from '../config/schema/server.js';
import { errorMessage, wrapError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { clientAddress } from './client-address.js';
import { HttpError, type HttpResponse, type Route, text } from './router.js';
import { readTlsMaterial } from './tls-files.js';
import { TlsReloader } from './tls-reloader.js';

export interface HttpServerOptions {
  /** host:port; port 0 picks a free one (tests). */
  address: string;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  routes: readonly Route[];
  logger: Logger;
  /** Told of every request that failed with an unexpected error (answered 500). */
  onError?: (path: string, error: unknown) => void;
  /** Serve HTTPS with these files (kept current by a TlsReloader); without it, plain HTTP. */
  tls?: ServerTlsConfig | undefined;
  /** Take the client address in logs from X-Forwarded-For (behind a load balancer). */
  trustProxy?: boolean;
}

/**
 * The daemon's HTTP(S) server: node:http or node:https with hard limits, a fixed table of routes.
 * Building it with `tls` reads the files and throws a ConfigError naming the one that is wrong.
 */
export class HttpServer {
  readonly #options: HttpServerOptions;
  readonly #server: Server | HttpsServer;
  readonly #routes = new Map<string, Route>();
  readonly #tls: TlsReloader | undefined;

  constructor(options: HttpServerOptions) {
    this.#options = options;
    for (const route of options.routes) this.#routes.set(`${route.method} ${route.path}`, route);
    const limits = {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(options.requestTimeoutMs, 10_000),
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
    };
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    if (!options.tls) {
      this.#server = createServer(limits, handle);
      return;
    }
    const material = readTlsMaterial(options.tls);
    // With a client CA, a client without a certificate it signed is refused in the handshake,
    // before any route (or its credentials check) is reached.
    const mutual = options.tls.client_ca_file !== undefined;
    const server = createHttpsServer(
      { ...limits, ...material.context, requestCert: mutual, rejectUnauthorized: mutual },
      handle,
    );
    server.on('tlsClientError', (error, socket) =>
      options.logger.debug(
        { remote: socket.remoteAddress, err: errorMessage(error) },
        'TLS handshake failed',
      ),
    );
    this.#server = server;
    this.#tls = new TlsReloader(options.tls, material, options.logger, (next) =>
      server.setSecureContext(next.context),
    );
  }

  /** The scheme clients use: `https` with `tls`, else `http`. */
  get scheme(): 'http' | 'https' {
    return this.#tls ? 'https' : 'http';
  }

  /**
   * Reads the TLS files again now (SIGHUP). True when a new certificate is served; false when
   * there is no TLS or the new files did not load (logged; the previous certificate stays).
   */
  reloadTls(reason = 'reload requested'): boolean {
    if (!this.#tls) {
      this.#options.logger.info({ reason }, 'no TLS configured: nothing to reload');
      return false;
    }
    return this.#tls.reload(reason);
  }

  /** Starts listening; resolves with the bound "host:port". */
  async listen(): Promise<string> {
    const { host, port } = splitAddress(this.#options.address);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', (error) =>
        reject(wrapError(`listen on ${this.#options.address}`, error, 'RW_HTTP_LISTEN')),
      );
      this.#server.listen(port, host, () => resolve());
    });
    this.#tls?.start();
    const bound = this.#server.address() as AddressInfo;
    return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  }

  /** Stops accepting connections and waits for open requests; idle keep-alive sockets are closed. */
  async close(): Promise<void> {
    this.#tls?.stop();
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://runwarden.local');
    // Noted on arrival: a refused body stream can take the socket, and its address, with it.
    const client = clientAddress(req, this.#options.trustProxy === true);
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    let response: HttpResponse;
    try {
      const route = this.#routes.get(`${req.method} ${url.pathname}`);
      if (!route) {
        const pathKnown = [...this.#routes.values()].some((candidate) => candidate.path === url.pathname);
        response = pathKnown ? text(405, 'method not allowed\n') : text(404, 'not found\n');
      } else {
        response = await route.handler({
          req,
          url,
          ...client,
          signal: controller.signal,
          readBody: (inspect) => readBody(req, this.#options.bodyLimitBytes, inspect),
        });
      }
    } catch (error) {
      if (error instanceof HttpError) {
        response = text(error.status, `${error.message}\n`);
      } else {
        this.#options.logger.error({ err: error, path: url.pathname }, 'request failed');
        this.#options.onError?.(url.pathname, error);
        response = text(500, 'internal error\n');
      }
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.status, response.headers);
    res.end(response.body);
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { host, port: Number(address.slice(colon + 1)) };
}

/**
 * Reads a request body, failing with 413 as soon as it passes `limit` (not after buffering it all).
 * `inspect` sees each chunk before it is kept; an error it throws stops the reading and is rethrown.
 * A refused body is drained, not kept, and the socket stays open so the refusal can be answered
 * (leaving a `for await` would destroy the request and its socket with it).
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  inspect?: (chunk: Buffer) => void,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, `body larger than ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop(new HttpError(413, `body larger than ${limit} bytes`));
      try {
        inspect?.(chunk);
      } catch (error) {
        return stop(error);
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    // Stays attached once settled: an error event with no listener would crash the process.
    req.on('error', (error) => stop(error));
    req.once('close', () => stop(new HttpError(400, 'the body ended before it was complete')));
  });
}
