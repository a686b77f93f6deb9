import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Registry } from 'prom-client';
import { acceptsGzip } from '../accept-encoding.js';
import { json, type Route, text } from '../router.js';

const gzipAsync = promisify(gzip);

export interface Readiness {
  /** Why the daemon is not ready, or an empty list when it is. */
  problems(): string[];
  /** More fields for the /readyz body (a cluster: which leases this runwarden holds). */
  details?(): Record<string, unknown>;
  /** Whether this runwarden leads `scope` (`/readyz?leader=<scope>`); undefined: no such scope. */
  isLeader?(scope: string): boolean | undefined;
}

/**
 * /healthz: the process answers. /readyz: it can do its work (store open, config loaded, not
 * stopping): 200 on a healthy standby too, since it polls and probes and may take over at any time.
 * `/readyz?leader=watch` (or `backup`) is 200 only on the healthy leader of that scope: point a load
 * balancer's health check at it to send webhooks to the leader.
 */
export function healthRoutes(readiness: Readiness): Route[] {
  return [
    { method: 'GET', path: '/healthz', handler: () => text(200, 'ok\n') },
    {
      method: 'GET',
      path: '/readyz',
      handler: ({ url }) => {
        const problems = readiness.problems();
        const details = readiness.details?.() ?? {};
        const scope = url.searchParams.get('leader');
        if (scope !== null) {
          const leader = readiness.isLeader?.(scope);
          if (leader === undefined)
            return json(400, {
              error: `unknown lease scope "${scope}": expected watch or backup (with cluster set)`,
            });
          if (!leader) problems.push(`not the ${scope} leader`);
        }
        return problems.length === 0
          ? json(200, { ready: true, ...details })
          : json(503, { ready: false, problems, ...details });
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
