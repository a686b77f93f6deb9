import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { serviceKey } from '../src/config/schema/services.js';
import { watchedService } from '../src/watch/watched-service.js';
import { useTempDir } from './helpers/temp.js';
import { problemsOf } from './helpers/config-problems.js';

const tempDir = useTempDir();

function load(text: string, env: Record<string, string> = {}) {
  const file = path.join(tempDir(), 'runwarden.yaml');
  writeFileSync(file, text);
  return loadConfig({ path: file, env }).config;
}

function problemsOfText(text: string): string[] {
  return problemsOf(() => load(text));
}

const minimal = ['services:', '  - project: p1', '    region: europe-west1', '    service: shop', ''].join(
  '\n',
);

describe('services config', () => {
  it("fills in the guide's defaults", () => {
    const [service] = load(minimal).services;
    expect(service).toMatchObject({
      health_path: '/health',
      watch_window: 30 * 60_000,
      mode: 'enforce',
      insufficient_data: 'alert',
      pre_deploy_backup: true,
      notify: [],
    });
    expect(serviceKey(service!)).toBe('shop');
    expect(
      service?.rules.map((rule) => [rule.name, rule.signal, rule.threshold, rule.window, rule.action]),
    ).toEqual([
      ['http_5xx', 'requests', 5, 5 * 60_000, 'rollback'],
      ['http_503', 'requests', 1, 60_000, 'rollback'],
      ['health', 'health', 3, 5 * 60_000, 'rollback'],
      ['cpu', 'cpu', 0.9, 5 * 60_000, 'alert'],
      ['memory', 'memory', 0.9, 5 * 60_000, 'alert'],
    ]);
  });

  it('latency rules: a percentile over a duration, usable in the watch and the guard, with a per-percentile minimum', () => {
    const rule = (name: string, extra: string) =>
      `      - name: ${name}\n        signal: latency\n        threshold: 800ms\n        window: 5m\n${extra}`;
    const config = load(
      `${minimal}    rules:\n${rule('p95', '        percentile: 95\n')}${rule('p50', '        percentile: 50\n        min_requests: 3\n')}    guard:\n      rules:\n${rule('p99', '')}`,
    );
    const service = watchedService(config.services[0]!);
    expect(service.rules).toEqual([
      {
        name: 'p95',
        signal: 'latency',
        percentile: 95,
        threshold: 800,
        windowMs: 300_000,
        minRequests: 100,
        action: 'rollback',
      },
      {
        name: 'p50',
        signal: 'latency',
        percentile: 50,
        threshold: 800,
        windowMs: 300_000,
        minRequests: 3,
        action: 'rollback',
      },
    ]);
    expect(service.guardRules).toEqual([
      {
        name: 'p99',
        signal: 'latency',
        percentile: 99,
        threshold: 800,
        windowMs: 300_000,
        minRequests: 500,
        action: 'rollback',
      },
    ]);
    // A ratio keeps its minimum of 20 when none is given.
    const ratio = load(
      `${minimal}    rules:\n      - name: r\n        signal: requests\n        measure: ratio\n        threshold: 0.1\n`,
    );
    expect(watchedService(ratio.services[0]!).rules[0]).toMatchObject({ minRequests: 20 });
  });

  it('a latency threshold must be a duration, and only latency takes one', () => {
    const problems = problemsOfText(
      `${minimal}    rules:\n      - name: slow\n        signal: latency\n        threshold: 800\n      - name: odd\n        signal: latency\n        threshold: soon\n      - name: hot\n        signal: cpu\n        threshold: 90ms\n`,
    ).join('\n');
    expect(problems).toMatch(
      /services\[0\]\.rules\[0\]\.threshold: latency: expected a duration like "800ms" or "2s", got 800/,
    );
    expect(problems).toMatch(
      /services\[0\]\.rules\[1\]\.threshold: latency: expected a duration like "800ms" or "2s", got "soon"/,
    );
    expect(problems).toMatch(
      /services\[0\]\.rules\[2\]\.threshold: cpu: expected a number, got "90ms" \(a duration is for signal "latency" only\)/,
    );
  });

  it('the emulator endpoints can be set, and default to Google', () => {
    expect(load(minimal).cloud_run.endpoint).toBeUndefined();
    const config = load(`${minimal}cloud_run:\n  endpoint: 127.0.0.1:8085\n  insecure: true\n`, {
      RUNWARDEN_MONITORING_ENDPOINT: 'localhost:9000',
    });
    expect(config.cloud_run).toMatchObject({ endpoint: '127.0.0.1:8085', insecure: true });
    expect(config.monitoring).toMatchObject({ endpoint: 'localhost:9000', alignment_period: 60_000 });
  });

  it('probe identity: none by default; id_token with an audience and an account to impersonate', () => {
    expect(load(minimal).services[0]).toMatchObject({ probe_auth: 'none' });
    expect(load(minimal).services[0]?.probe_audience).toBeUndefined();
    const config = load(
      `${minimal}    probe_auth: id_token\n    probe_audience: https://shop-abc-ew.a.run.app\n    probe_service_account: p@x.iam.gserviceaccount.com\nid_tokens:\n  iam_endpoint: http://127.0.0.1:8090\n`,
    );
    expect(config.services[0]).toMatchObject({
      probe_auth: 'id_token',
      probe_audience: 'https://shop-abc-ew.a.run.app',
      probe_service_account: 'p@x.iam.gserviceaccount.com',
    });
    expect(config.id_tokens).toEqual({ iam_endpoint: 'http://127.0.0.1:8090', timeout: 10_000 });
  });

  it('bad probe identity settings name the option', () => {
    const problems = problemsOfText(
      `${minimal}    probe_auth: token\n    probe_audience: shop\n    probe_service_account: nobody\nid_tokens:\n  iam_endpoint: somewhere\n`,
    ).join('\n');
    expect(problems).toMatch(/services\[0\]\.probe_auth: .*"none".*"id_token"/);
    expect(problems).toMatch(/services\[0\]\.probe_audience: expected an absolute http\(s\) URL/);
    expect(problems).toMatch(/services\[0\]\.probe_service_account: expected a service account email/);
    expect(problems).toMatch(/id_tokens\.iam_endpoint: expected a URL/);
    const unused = problemsOfText(`${minimal}    probe_audience: https://shop-abc-ew.a.run.app\n`).join('\n');
    expect(unused).toMatch(
      /services\[0\]\.probe_audience: probe_audience applies only with probe_auth: id_token/,
    );
  });

  it('reports every problem with its path', () => {
    const problems = problemsOfText(
      [
        'cloud_run:',
        '  endpoint: nowhere',
        'services:',
        '  - project: p1',
        '    region: Europe',
        '    service: Shop',
        '    mode: yolo',
        '    rules:',
        '      - name: slow',
        '        signal: cpu',
        '        threshold: 90',
        '      - name: flaky',
        '        signal: health',
        '        threshold: 2.5',
        '      - name: both',
        '        signal: requests',
        '        response_code: "503"',
        '        response_code_class: 5xx',
        '        threshold: 1',
        '      - name: odd',
        '        signal: health',
        '        response_code: "500"',
        '        threshold: 1',
        '',
      ].join('\n'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^cloud_run\.endpoint: expected an endpoint like/),
        expect.stringMatching(/^services\[0\]\.region: expected a region like "europe-west1"/),
        expect.stringMatching(/^services\[0\]\.service: expected a Cloud Run service name/),
        expect.stringMatching(/^services\[0\]\.mode: /),
        expect.stringMatching(/^services\[0\]\.rules\[0\]\.threshold: expected a fraction from 0 to 1/),
        expect.stringMatching(/^services\[0\]\.rules\[1\]\.threshold: health: expected a whole number/),
        expect.stringMatching(/^services\[0\]\.rules\[2\]\.response_code: give response_code or/),
        expect.stringMatching(
          /^services\[0\]\.rules\[3\]\.signal: response_code and response_code_class apply/,
        ),
      ]),
    );
  });

  it('names of services and of rules are unique', () => {
    const problems = problemsOfText(
      [
        minimal.trimEnd(),
        '    rules:',
        '      - { name: a, signal: health, threshold: 1 }',
        '      - { name: a, signal: health, threshold: 2 }',
        '  - { project: p2, region: europe-west1, service: other, name: shop }',
        '',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'services[0].rules[1].name: duplicate rule "a"',
      'services[1].name: duplicate name "shop" (also item 0)',
    ]);
  });

  it('a rule needs its threshold and signal', () => {
    const problems = problemsOfText(`${minimal}    rules:\n      - name: x\n`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^services\[0\]\.rules\[0\]\.signal: /),
        expect.stringMatching(/^services\[0\]\.rules\[0\]\.threshold: /),
      ]),
    );
  });
});
