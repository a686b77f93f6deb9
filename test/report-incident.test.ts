import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/core/errors.js';
import { incidentMarkdown } from '../src/core/incident-markdown.js';
import { buildIncidentReport } from '../src/core/incident-report.js';
import { parseSince } from '../src/core/since-time.js';
import type { RuleEvaluation } from '../src/core/rules.js';
import { Store } from '../src/store/store.js';
import { loadIncidents } from '../src/watch/incident-load.js';
import { watchedService } from '../src/watch/watched-service.js';
import { configSchema } from '../src/config/schema.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-report-');
const T0 = Date.parse('2026-11-28T10:00:00Z');
const at = (seconds: number) => T0 + seconds * 1000;

const config = configSchema.parse({
  services: [{ project: 'acme-prod', region: 'europe-west1', service: 'shop-run', name: 'shop' }],
});
const services = config.services.map(watchedService);

function evaluation(rule: string, value: number | null, verdict: RuleEvaluation['verdict']): RuleEvaluation {
  return {
    rule,
    signal: rule === 'health' ? 'health' : 'requests',
    action: 'rollback',
    window: null,
    query: '',
    raw: {},
    value,
    threshold: rule === 'health' ? 3 : 5,
    verdict,
    detail: `${value} ${verdict === 'unhealthy' ? '>' : '<='} threshold`,
  };
}

/** A store holding one bad deploy rolled back, a restore after it, and a rollback by hand later. */
function story(): { store: Store; watchId: number; completedId: number; manualId: number } {
  const store = Store.open(tempDir());
  const watch = store.watches.create({
    service: 'shop',
    candidate: 'shop-00002-bad',
    stable: 'shop-00001-good',
    startedAt: at(0),
    deadline: at(300),
    dryRun: false,
  });
  const restorePoint = {
    source: 'watch_start' as const,
    backup: '/backups/backup_completo_20261128_100000.zip',
    backupId: 1,
    takenAt: at(1),
    fingerprint: { schemaVersion: 3, migrations: ['shop.0001_initial'] },
    note: null,
  };
  store.watches.setRestorePoint(watch.id, restorePoint);
  const base = { service: 'shop', watchId: watch.id, revision: 'shop-00002-bad' };
  store.history.add({
    ...base,
    at: at(0),
    kind: 'watch:started',
    message: 'new revision serving',
    detail: {},
  });
  // Three healthy ticks (one line), then the trip of http_5xx; health stays healthy.
  for (const [seconds, value] of [
    [10, 0],
    [20, 2],
    [30, 1],
  ] as const)
    store.evaluations.add(
      { watchId: watch.id, phase: 'watch', revision: watch.candidate },
      'shop',
      at(seconds),
      [evaluation('http_5xx', value, 'healthy'), evaluation('health', 0, 'healthy')],
      () => 'none',
    );
  store.evaluations.add(
    { watchId: watch.id, phase: 'watch', revision: watch.candidate },
    'shop',
    // Stored once the rollback returned, as a tick does: the report dates it by the decision (43 s - 3 s).
    at(44),
    [evaluation('http_5xx', 12, 'unhealthy'), evaluation('health', 0, 'healthy')],
    (entry) => (entry.rule === 'http_5xx' ? 'rollback' : 'none'),
  );
  const rollback = {
    trigger: 'watch',
    from: ['shop-00002-bad'],
    to: 'shop-00001-good',
    restorePoint: {
      ...restorePoint,
      schemaChanged: true,
      schemaDetail: 'schema changed: 1 migration(s) applied since: shop.0002_price',
    },
  };
  store.history.add({
    ...base,
    at: at(41),
    kind: 'rollback:started',
    message: 'http_5xx: 12 > 5',
    detail: rollback,
  });
  store.history.add({
    ...base,
    at: at(43),
    kind: 'rollback:completed',
    message: 'http_5xx: 12 > 5',
    detail: { ...rollback, confirmed: true, probe: { ok: true, status: 200 }, durationMs: 3_000 },
  });
  store.watches.end(watch.id, 'rolled_back', 'http_5xx: 12 > 5', at(43));
  const completedId = store.history.idOf('rollback:completed', 'shop', at(43)) as number;
  const restore = store.restores.start({
    archive: restorePoint.backup,
    kind: 'db',
    name: 'main',
    target: '/app/db.sqlite3',
    at: new Date(at(600)),
  });
  store.restores.finish(restore, { result: 'completed', at: new Date(at(605)) });
  // Later, a person rolls back by hand, outside any watch.
  const manual = { service: 'shop', watchId: null, revision: 'shop-00000-old' };
  const detail = {
    trigger: 'manual',
    from: ['shop-00001-good'],
    to: 'shop-00000-old',
    restorePoint: {
      source: 'none',
      backup: null,
      takenAt: null,
      note: 'no pre-deploy backup',
      schemaChanged: null,
      schemaDetail: 'unknown',
    },
  };
  store.history.add({ ...manual, at: at(3600), kind: 'rollback:started', message: 'by hand', detail });
  store.history.add({
    ...manual,
    at: at(3602),
    kind: 'rollback:completed',
    message: 'by hand',
    detail: { ...detail, confirmed: true, probe: null, durationMs: 2_000 },
  });
  const manualId = store.history.idOf('rollback:started', 'shop', at(3600)) as number;
  return { store, watchId: watch.id, completedId, manualId };
}

describe('the incident report, from a real store', () => {
  it('orders the timeline: deploy seen, evaluations, trip with value vs threshold, rollback sent and confirmed, health, restore', () => {
    const { store, completedId, watchId } = story();
    const [facts] = loadIncidents(store, services, { rollback: completedId });
    const report = buildIncidentReport(facts!);
    expect(report).toMatchObject({
      watchId,
      outcome: 'rolled_back',
      candidate: 'shop-00002-bad',
      stable: 'shop-00001-good',
    });
    expect(report.title).toBe('shop: shop-00002-bad rolled back to shop-00001-good');
    expect(report.timeline.map((entry) => [entry.offset, entry.kind])).toEqual([
      ['+0s', 'deploy_seen'],
      ['+10s', 'evaluation'],
      ['+10s', 'probe'],
      ['+40s', 'trip'],
      ['+41s', 'rollback_sent'],
      ['+43s', 'rollback_confirmed'],
      ['+43s', 'health_after'],
      ['+10m', 'restore'],
    ]);
    const [, healthy, probe, trip, , confirmed, health, restore] = report.timeline.map((entry) => entry.text);
    expect(healthy).toContain(
      'healthy, values 0..2 vs threshold 5 (3 evaluations until 2026-11-28T10:00:30.000Z)',
    );
    expect(probe).toContain('rule health (health, rollback): healthy, value 0 vs threshold 3 (4 evaluations');
    expect(trip).toContain('TRIP: rule http_5xx (requests, rollback): unhealthy, value 12 vs threshold 5');
    expect(trip).toContain('action taken: rollback');
    expect(confirmed).toBe('rollback confirmed: 100 % of traffic on shop-00001-good 3s after the trip');
    expect(health).toBe('health afterwards: healthy (status 200)');
    expect(restore).toContain('of db main from /backups/backup_completo_20261128_100000.zip: completed');
    expect(report.rules).toEqual([
      {
        rule: 'http_5xx',
        signal: 'requests',
        action: 'rollback',
        threshold: 5,
        evaluations: 4,
        unhealthy: 1,
        worst: 12,
      },
      {
        rule: 'health',
        signal: 'health',
        action: 'rollback',
        threshold: 3,
        evaluations: 4,
        unhealthy: 0,
        worst: 0,
      },
    ]);
    expect(report.restorePoint).toEqual({
      source: 'watch_start',
      backup: '/backups/backup_completo_20261128_100000.zip',
      takenAt: '2026-11-28T10:00:01.000Z',
      note: null,
      schemaChanged: true,
      schemaDetail: 'schema changed: 1 migration(s) applied since: shop.0002_price',
    });
    expect(report.links?.revisions).toBe(
      'https://console.cloud.google.com/run/detail/europe-west1/shop-run/revisions?project=acme-prod',
    );
    expect(report.links?.logQuery).toBe(
      'resource.type="cloud_run_revision"\nresource.labels.service_name="shop-run"\nresource.labels.revision_name="shop-00002-bad"\nseverity>=ERROR',
    );
    const logs = new URL(report.links!.logs!);
    expect(logs.searchParams.get('project')).toBe('acme-prod');
    expect(decodeURIComponent(logs.pathname.split(';query=')[1]!.split(';')[0]!)).toBe(
      report.links?.logQuery,
    );
    store.close();
  });

  it('renders the same Markdown from the same store, with the restore point, links and the three questions', () => {
    const { store, completedId, watchId } = story();
    const render = () =>
      incidentMarkdown(loadIncidents(store, services, { rollback: completedId }).map(buildIncidentReport), {
        command: `runwarden report --rollback ${completedId}`,
      });
    const text = render();
    expect(render()).toBe(text);
    expect(
      incidentMarkdown(loadIncidents(store, services, { watch: watchId }).map(buildIncidentReport), {
        command: `runwarden report --rollback ${completedId}`,
      }),
    ).toBe(text);
    expect(text.startsWith('# Incident: shop: shop-00002-bad rolled back to shop-00001-good\n')).toBe(true);
    const headings = text.split('\n').filter((line) => line.startsWith('## '));
    expect(headings).toEqual([
      '## Timeline',
      '## Rules',
      '## Restore point',
      '## Links',
      '## Cause',
      '## Resolution',
      '## Prevention',
    ]);
    expect(text).toContain('- Backup: `/backups/backup_completo_20261128_100000.zip` (source: watch_start)');
    expect(text).toContain(
      'Schema drift since the restore point, at the rollback: CHANGED (schema changed: 1 migration(s)',
    );
    expect(text).toContain('| 2026-11-28T10:00:40.000Z | +40s | TRIP: rule http_5xx');
    expect(text).toContain('| http_5xx | requests | rollback | 4 | 1 | 12 | 5 |');
    expect(text).toContain('resource.labels.revision_name="shop-00002-bad"');
    expect(text).toContain(
      `_Generated by \`runwarden report --rollback ${completedId}\` from runwarden's store._`,
    );
    store.close();
  });

  it('a rollback outside a watch is one incident of its entries; --since gathers every incident', () => {
    const { store, manualId } = story();
    const [manual] = loadIncidents(store, services, { rollback: manualId }).map(buildIncidentReport);
    expect(manual).toMatchObject({
      watchId: null,
      outcome: 'rolled_back',
      candidate: 'shop-00001-good',
      rollbackIds: [manualId, manualId + 1],
    });
    expect(manual!.timeline.map((entry) => entry.kind)).toEqual([
      'rollback_sent',
      'rollback_confirmed',
      'health_after',
    ]);
    expect(manual!.timeline[2]!.text).toBe('health afterwards: not probed (no service URL)');
    expect(
      loadIncidents(store, services, { since: at(0) }).map((facts) => buildIncidentReport(facts).title),
    ).toEqual([
      'shop: shop-00002-bad rolled back to shop-00001-good',
      'shop: shop-00001-good rolled back to shop-00000-old',
    ]);
    expect(loadIncidents(store, services, { since: at(60) })).toHaveLength(1);
    expect(loadIncidents(store, services, { since: at(7200) })).toEqual([]);
    expect(
      incidentMarkdown([], { command: 'runwarden report --since 1h', since: '2026-11-28T12:00:00.000Z' }),
    ).toContain('No incident');
    store.close();
  });

  it('an unknown watch, a history entry that is no rollback, and a bad --since are named', () => {
    const { store, watchId } = story();
    expect(() => loadIncidents(store, services, { watch: 999 })).toThrow(UsageError);
    expect(() => loadIncidents(store, services, { watch: 999 })).toThrow('--watch 999: no such watch');
    const started = store.history.forWatch(watchId)[0]!.id;
    expect(() => loadIncidents(store, services, { rollback: started })).toThrow(
      `--rollback ${started}: no such rollback (history entry ${started} is watch:started)`,
    );
    expect(() => loadIncidents(store, [], { rollback: 999 })).toThrow('--rollback 999: no such rollback;');
    // Without the service in the config there are no links, and the report says so.
    const [bare] = loadIncidents(store, [], { watch: watchId }).map(buildIncidentReport);
    expect(bare!.links).toBeNull();
    expect(parseSince('2h', at(7200))).toBe(at(0));
    expect(parseSince('2026-11-28T10:00:00Z', at(7200))).toBe(at(0));
    for (const bad of ['yesterday', '1', '2h ago', '2026-11-28T12:00:01Z'])
      expect(parseSince(bad, at(7200))).toBeUndefined();
    store.close();
  });
});
