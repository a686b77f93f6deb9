import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { guardService } from '../src/watch/guard-tick.js';
import { probeJob } from '../src/watch/probe-job.js';
import { serviceStatuses } from '../src/watch/status.js';
import { tickService } from '../src/watch/watch-tick.js';
import { watchDeadline } from './helpers/deadlines.js';
import { waitFor } from './helpers/wait.js';
import { servedBy, useWatchHarness } from './helpers/watch-harness.js';

const { ready, signal } = useWatchHarness('runwarden-tenant-schema-');

const HEALTH_ONLY = {
  rules: [{ name: 'health', signal: 'health', threshold: 3 }],
  guard: { rules: [{ name: 'health', signal: 'health', threshold: 3 }], interval: '200ms' },
};

function migrate(file: string, name: string): void {
  const db = new Database(file);
  db.exec(
    `CREATE TABLE IF NOT EXISTS django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT); CREATE TABLE shop_${name} (id INTEGER); INSERT INTO django_migrations (app, name, applied) VALUES ('shop', '${name}', 'now')`,
  );
  db.close();
}

describe('schema drift of tenant databases', () => {
  it('a guard trip after one tenant’s migration alerts naming that tenant; status names it too', async () => {
    const { h, v1 } = await ready(HEALTH_ONLY);
    const tenants = path.join(path.dirname(h.mainDb), 'tenants');
    mkdirSync(tenants, { recursive: true });
    for (const tenant of ['acme', 'globex']) migrate(path.join(tenants, `${tenant}.sqlite3`), '0001_initial');

    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    await h.runUntilEvent('watch:promoted', (event) => event.stable === v2);
    const watch = h.runtime.store.watches.recent('shop', 1)[0]!;
    expect(Object.keys(watch.restorePoint?.fingerprint?.tenants ?? {})).toEqual(['acme', 'globex']);

    // The new code migrates one tenant's database (the main one and acme's stay as they were).
    migrate(path.join(tenants, 'globex.sqlite3'), '0002_price');
    h.playground.setBehaviour(v2, 'failing-health');
    const service = h.runtime.services[0]!;
    const refused = await waitFor(
      async () => {
        const found = h.seen.find((entry) => entry.name === 'rollback:refused');
        if (found) return found.payload as { refusal: string; to: string; reason: string };
        await probeJob(h.runtime, service, () => {}).runOnce(signal());
        await tickService(h.runtime, service, signal());
        await guardService(h.runtime, service, signal());
        return undefined;
      },
      'the guard’s refusal',
      watchDeadline(h.config),
      { every: h.config.services[0]!.poll_interval },
    );
    expect(refused).toMatchObject({ refusal: 'schema_changed', to: v1 });
    expect(refused.reason).toContain('tenants changed: globex');
    expect(refused.reason).toContain('tenant globex: 1 migration(s) applied since: shop.0002_price');
    expect(refused.reason).not.toContain('acme:');
    expect(servedBy(h)).toEqual({ [v2]: 100 });

    const fingerprint = await h.runtime.schema!.fingerprint(signal());
    const [status] = serviceStatuses(h.runtime.services, h.runtime.store, Date.now(), { fingerprint });
    expect(status?.schema_drift).toMatchObject({ changed: true, tenants: ['globex'] });
    expect(status?.schema_drift?.detail).toContain('tenant globex');
  });
});
