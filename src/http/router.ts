import type { IncomingMessage } from 'node:http';

/** What a route answers; the server writes it. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RequestContext {
  req: IncomingMessage;
  /** The request URL. Its query may hold a credential (`auth_token`): never log it whole. */
  url: URL;
  /** The client's address (from X-Forwarded-For with `server.trust_proxy`), for logs only. */
  remote: string | undefined;
  /** The address that connected: the client, or the proxy in front of it. */
  peer: string | undefined;
  /**
   * Reads the whole body, refusing (413) past the configured limit. `inspect` sees each chunk as it
   * arrives, before it is kept; when it throws, reading stops and the error is the result.
   */
  readBody(inspect?: (chunk: Buffer) => void): Promise<Buffer>;
  signal: AbortSignal;
}

export type RouteHandler = (context: RequestContext) => Promise<HttpResponse> | HttpResponse;

/** A route: one method and one exact path. The set is small and fixed, so no pattern matching. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler: RouteHandler;
}

export class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function json(status: number, value: unknown): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: `${JSON.stringify(value)}\n`,
  };
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): HttpResponse {
  return { status, headers: { 'content-type': contentType }, body };
}
