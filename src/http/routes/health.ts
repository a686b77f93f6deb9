import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Registry } from 'prom-client';
import { acceptsGzip } from '../accept-encoding.js';
import { json, type Route, text } from '../router.js';

const gzipAsync = promisify(gzip);

export interface Readiness {
  /** Why the daemon is not ready, or an empty list when it is. */
  problems(): string[];
}

/** /healthz: the process answers. /readyz: it can do its work (store open, config loaded, not stopping). */
export function healthRoutes(readiness: Readiness): Route[] {
  return [
    { method: 'GET', path: '/healthz', handler: () => text(200, 'ok\n') },
    {
      method: 'GET',
      path: '/readyz',
      handler: () => {
        const problems = readiness.problems();
        return problems.length === 0 ? json(200, { ready: true }) : json(503, { ready: false, problems });
      },
    },
  ];
}

/**
 * /metrics in the Prometheus text format, gzip-compressed when the scraper asks (Prometheus always
 * does): with hundreds of services the page is hundreds of KB of repetitive text.
 */
export function metricsRoute(registry: Registry): Route {
  return {
    method: 'GET',
    path: '/metrics',
    handler: async ({ req }) => {
      const body = await registry.metrics();
      const headers = { 'content-type': registry.contentType, vary: 'Accept-Encoding' };
      if (!acceptsGzip(req.headers['accept-encoding'])) return { status: 200, headers, body };
      return {
        status: 200,
        headers: { ...headers, 'content-encoding': 'gzip' },
        body: await gzipAsync(body),
      };
    },
  };
}
