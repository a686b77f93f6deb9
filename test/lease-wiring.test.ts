import { describe, expect, it } from 'vitest';
import { leaderOnly, leaderRoutes } from '../src/app/leadership.js';
import { HttpServer } from '../src/http/server.js';
import type { Route } from '../src/http/router.js';
import { healthRoutes } from '../src/http/routes/health.js';
import { json } from '../src/http/router.js';
import type { Leadership } from '../src/lease/leadership.js';
import { createLogger } from '../src/telemetry/logger.js';
import { useCleanups } from './helpers/temp.js';

const logger = createLogger({ level: 'silent' });

/** A leadership whose answer the test sets: the interface's smallest honest implementation. */
function switchable(scope: 'watch' | 'backup') {
  let leader = false;
  const leadership: Leadership = {
    scope,
    mayAct: () => leader,
    generation: () => (leader ? 7 : undefined),
    beforeActing: () => () => {},
    onChange: () => () => {},
  };
  return {
    leadership,
    set: (value: boolean) => {
      leader = value;
    },
  };
}

describe('what a standby does with its scheduled jobs and webhooks', () => {
  const cleanups = useCleanups();

  async function serve(routes: Route[]) {
    const server = new HttpServer({
      address: '127.0.0.1:0',
      bodyLimitBytes: 1_024,
      requestTimeoutMs: 5_000,
      trustProxy: false,
      routes,
      logger,
    });
    const address = await server.listen();
    cleanups.push(() => server.close());
    return `http://${address}`;
  }

  it('a scheduled backup runs on the backup leader only; a standby skips its turn', async () => {
    const { leadership, set } = switchable('backup');
    let runs = 0;
    const backup = {
      name: 'backup',
      runOnce: async () => {
        runs += 1;
      },
    };
    const job = leaderOnly(leadership, backup, logger);
    expect(job.name).toBe('backup');
    await job.runOnce(AbortSignal.timeout(1_000));
    expect(runs).toBe(0);
    set(true);
    await job.runOnce(AbortSignal.timeout(1_000));
    expect(runs).toBe(1);
  });

  it('a webhook reaching a standby is answered 503 with Retry-After (the TTL, rounded up to seconds)', async () => {
    const { leadership, set } = switchable('watch');
    const base = await serve(
      leaderRoutes(
        [{ method: 'POST', path: '/v1/alerts/x', handler: () => json(200, { ok: true }) }],
        leadership,
        1_500,
      ),
    );
    const standby = await fetch(`${base}/v1/alerts/x`, { method: 'POST', body: '{}' });
    expect(standby.status).toBe(503);
    expect(standby.headers.get('retry-after')).toBe('2');
    expect(await standby.json()).toEqual({
      error: 'standby',
      detail: 'this runwarden does not hold the watch lease; the leader answers this',
    });
    set(true);
    expect((await fetch(`${base}/v1/alerts/x`, { method: 'POST', body: '{}' })).status).toBe(200);
  });

  it('/readyz is 200 on a healthy standby; ?leader= is 200 only on the leader, and names an unknown scope', async () => {
    const { leadership, set } = switchable('watch');
    const base = await serve(
      healthRoutes({
        problems: () => [],
        details: () => ({ leases: { watch: { leader: leadership.mayAct() } } }),
        isLeader: (scope) => (scope === 'watch' ? leadership.mayAct() : undefined),
      }),
    );
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, leases: { watch: { leader: false } } });
    const notLeader = await fetch(`${base}/readyz?leader=watch`);
    expect(notLeader.status).toBe(503);
    expect(await notLeader.json()).toEqual({
      ready: false,
      problems: ['not the watch leader'],
      leases: { watch: { leader: false } },
    });
    set(true);
    expect((await fetch(`${base}/readyz?leader=watch`)).status).toBe(200);
    const unknown = await fetch(`${base}/readyz?leader=deploys`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({
      error: 'unknown lease scope "deploys": expected watch or backup (with cluster set)',
    });
  });
});
