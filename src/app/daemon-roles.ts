import type { Role } from '../config/schema/cluster.js';
import type { Route } from '../http/router.js';
import { text } from '../http/router.js';

/** Whether a daemon in `role` takes backups (scheduled backups, drills, off-site copies, /v1/backups). */
export function runsBackups(role: Role): boolean {
  return role !== 'watch';
}

/** Whether a daemon in `role` runs the deploy watch, the guard and the alert webhooks. */
export function runsWatch(role: Role): boolean {
  return role !== 'backup';
}

/** The endpoints each role serves; the daemon answers them 404 when the role is off. */
export const ROLE_ENDPOINTS = {
  backup: [
    { method: 'POST', path: '/v1/backups' },
    { method: 'GET', path: '/startupz' },
  ],
  watch: [
    { method: 'POST', path: '/v1/alerts/alertmanager' },
    { method: 'POST', path: '/v1/alerts/cloud-monitoring' },
  ],
} as const satisfies Record<'backup' | 'watch', ReadonlyArray<Pick<Route, 'method' | 'path'>>>;

/**
 * 404 routes for the endpoints of the role that is off, whose body names the role this runwarden
 * runs in: a sender pointed at the wrong runwarden (an Alertmanager at a backup sidecar) learns why
 * from the answer, not from a bare "not found".
 */
export function roleOffRoutes(role: Role): Route[] {
  const off = (endpoints: (typeof ROLE_ENDPOINTS)['backup' | 'watch'], what: string): Route[] =>
    endpoints.map(({ method, path }) => ({
      method,
      path,
      handler: () => text(404, `this runwarden runs in the ${role} role; ${what} off here\n`),
    }));
  return [
    ...(runsBackups(role) ? [] : off(ROLE_ENDPOINTS.backup, 'backups are')),
    ...(runsWatch(role) ? [] : off(ROLE_ENDPOINTS.watch, 'the deploy watch is')),
  ];
}
