import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { STORE_FILE, Store } from '../src/store/store.js';
import { runCli } from './helpers/cli.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-guard-setup-');

function load(lines: string[]) {
  const file = path.join(tempDir(), 'runwarden.yaml');
  const service = ['services:', '  - project: p1', '    region: europe-west1', '    service: shop'];
  writeFileSync(file, [...service, ...lines, ''].join('\n'));
  return loadConfig({ path: file, env: {} }).config;
}

describe('the guard configuration', () => {
  it("defaults to the guide's rules every minute, a 24 h rollback window, and alerts on a schema change", () => {
    const [service] = load([]).services;
    expect(service?.on_schema_change).toBe('rollback');
    expect(service?.guard).toMatchObject({
      interval: 60_000,
      rollback_window: 24 * 3_600_000,
      on_schema_change: 'alert',
    });
    expect(service?.guard.rules.map((rule) => [rule.name, rule.action])).toEqual([
      ['http_5xx', 'rollback'],
      ['http_503', 'rollback'],
      ['health', 'rollback'],
      ['cpu', 'alert'],
      ['memory', 'alert'],
    ]);
  });

  it('names each bad guard key', () => {
    const problems = problemsOf(() =>
      load([
        '    on_schema_change: restore',
        '    guard:',
        '      rollback_window: soon',
        '      on_schema_change: maybe',
        '      every: 1m',
      ]),
    );
    const text = problems.join('\n');
    expect(text).toContain('services[0].on_schema_change');
    expect(text).toContain('services[0].guard.rollback_window');
    expect(text).toContain('services[0].guard.on_schema_change');
    expect(text).toContain('services[0].guard.every: unknown key');
    const duplicate = problemsOf(() =>
      load([
        '    guard:',
        '      rules:',
        '        - { name: health, signal: health, threshold: 3 }',
        '        - { name: health, signal: health, threshold: 2 }',
      ]),
    );
    expect(duplicate).toEqual(['services[0].guard.rules[1].name: duplicate rule "health"']);
  });
});

describe('migration 010: the known-good list', () => {
  it('starts each service’s list from its stable slot as a baseline and keeps owed rollbacks and evaluations', () => {
    const dir = tempDir();
    Store.open(dir, MIGRATIONS.slice(0, 9)).close();
    const db = new Database(path.join(dir, STORE_FILE));
    db.exec(`
      INSERT INTO watch_services (service, stable_revision, stable_since, stable_reason, updated_at)
        VALUES ('shop', 'shop-00002', 2000, 'promoted', 2000), ('blog', NULL, NULL, NULL, 10);
      INSERT INTO watches (id, service, candidate, stable, started_at, deadline, status)
        VALUES (7, 'shop', 'shop-00002', 'shop-00001', 1000, 1500, 'promoted');
      INSERT INTO watch_evaluations (watch_id, service, at, rule, signal, rule_action, query, raw, threshold,
                                     verdict, action, detail)
        VALUES (7, 'shop', 1200, 'health', 'health', 'rollback', 'q', '{}', 3, 'healthy', 'none', 'ok');
      INSERT INTO watch_owed_rollbacks (service, trigger, to_revision, from_revisions, reason, decided_at, recorded_at)
        VALUES ('shop', 'alert', 'shop-00001', '["shop-00002"]', 'an alert', 3000, 3000);
    `);
    db.close();
    const store = Store.open(dir);
    try {
      expect(store.knownGood.list('shop')).toEqual([{ revision: 'shop-00002', how: 'baseline', at: 2000 }]);
      expect(store.knownGood.list('blog')).toEqual([]);
      expect(store.evaluations.forWatch(7)).toMatchObject([
        { phase: 'watch', revision: 'shop-00002', rule: 'health' },
      ]);
      expect(store.owed.get('shop')).toMatchObject({
        trigger: 'alert',
        to: 'shop-00001',
        from: ['shop-00002'],
      });
      // The guard's evaluations belong to no watch, and the guard may owe a rollback.
      store.owed.clearService('shop');
      store.owed.record({
        service: 'shop',
        trigger: 'guard',
        to: 'shop-00001',
        from: ['shop-00002'],
        watchId: null,
        reason: 'guard',
        rule: 'health',
        decidedAt: 4000,
        recordedAt: 4000,
      });
      expect(store.owed.get('shop')?.trigger).toBe('guard');
    } finally {
      store.close();
    }
  });

  it('keeps the newest 50 entries of a service', () => {
    const store = Store.open(tempDir());
    try {
      for (let index = 0; index < 55; index += 1)
        store.knownGood.append('shop', `shop-${index}`, 'promoted', index);
      const list = store.knownGood.list('shop');
      expect(list).toHaveLength(50);
      expect(list[0]?.revision).toBe('shop-5');
      expect(list.at(-1)?.revision).toBe('shop-54');
    } finally {
      store.close();
    }
  });

  it("prunes only the guard's old evaluations of one service", () => {
    const store = Store.open(tempDir());
    try {
      const evaluation = {
        rule: 'health',
        signal: 'health' as const,
        action: 'rollback' as const,
        window: null,
        query: '',
        raw: {},
        value: 0,
        threshold: 3,
        verdict: 'healthy' as const,
        detail: 'ok',
      };
      const guard = { watchId: null, phase: 'guard' as const, revision: 'shop-2' };
      store.evaluations.add(guard, 'shop', 1_000, [evaluation], () => 'none');
      store.evaluations.add(guard, 'shop', 5_000, [evaluation], () => 'none');
      store.evaluations.add(guard, 'blog', 1_000, [evaluation], () => 'none');
      expect(store.evaluations.pruneGuard('shop', 2_000)).toBe(1);
      expect(
        store.evaluations.forGuard('shop').map((entry) => [entry.at, entry.phase, entry.watchId]),
      ).toEqual([[5_000, 'guard', null]]);
      expect(store.evaluations.forGuard('blog')).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});

describe('runwarden history --guard', () => {
  it("lists the guard's evaluations of a service; without --service it is a usage error", () => {
    const dir = tempDir();
    const state = path.join(dir, 'state');
    const config = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      config,
      [
        'state_dir: ./state',
        'services:',
        '  - { project: p1, region: europe-west1, service: shop }',
        '',
      ].join('\n'),
    );
    const store = Store.open(state);
    store.evaluations.add(
      { watchId: null, phase: 'guard', revision: 'shop-00002' },
      'shop',
      Date.UTC(2026, 0, 1),
      [
        {
          rule: 'health',
          signal: 'health',
          action: 'rollback',
          window: null,
          query: '',
          raw: {},
          value: 3,
          threshold: 3,
          verdict: 'unhealthy',
          detail: '3 failed probes in a row',
        },
      ],
      () => 'refused:window_closed',
    );
    store.close();
    const listed = runCli(['history', '--service', 'shop', '--guard', '--json', '--config', config]);
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      guard: 'shop',
      evaluations: [
        { phase: 'guard', revision: 'shop-00002', rule: 'health', taken: 'refused:window_closed' },
      ],
    });
    const text = runCli(['history', '--service', 'shop', '--guard', '--config', config]);
    expect(text.stdout).toContain('health (rollback)  unhealthy  -> refused:window_closed');
    const bad = runCli(['history', '--guard', '--config', config]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--guard needs --service S');
  });
});
