import type { Registry } from 'prom-client';
import { json, type Route, text } from '../router.js';

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

export function metricsRoute(registry: Registry): Route {
  return {
    method: 'GET',
    path: '/metrics',
    handler: async () => text(200, await registry.metrics(), registry.contentType),
  };
}
