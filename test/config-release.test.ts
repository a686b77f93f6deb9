import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { useTempDir } from './helpers/temp.js';
import { problemsOf } from './helpers/config-problems.js';

const tempDir = useTempDir();

function load(text: string) {
  const file = path.join(tempDir(), 'runwarden.yaml');
  writeFileSync(file, text);
  return loadConfig({ path: file, env: {} }).config;
}

const service = (extra: string[]) =>
  ['services:', '  - project: p1', '    region: europe-west1', '    service: shop', ...extra, ''].join('\n');

describe('blue-green config: probes, smoke checks, release steps', () => {
  it('defaults: 3 healthy probes in a row, no smoke checks, no automatic promotion, one step of 100', () => {
    const [shop] = load(service([])).services;
    expect(shop?.probe_consecutive).toBe(3);
    expect(shop?.smoke).toEqual([]);
    expect(shop?.release).toEqual({
      auto_promote: false,
      steps: [100],
      step_wait: 10 * 60_000,
      comparison: { significance: 0.01, min_ratio: 2, min_difference: 0.01, min_requests: 200 },
    });
  });

  it('reads smoke checks with their expected status and body', () => {
    const [shop] = load(
      service([
        '    smoke:',
        '      - path: /login',
        '        body_contains: Sign in',
        '      - path: /api/items',
        '        status: 204',
      ]),
    ).services;
    expect(shop?.smoke).toEqual([
      { path: '/login', status: 200, body_contains: 'Sign in' },
      { path: '/api/items', status: 204 },
    ]);
  });

  it('names every bad step list, smoke check and count', () => {
    const problems = problemsOf(() =>
      load(
        service([
          '    probe_consecutive: 0',
          '    smoke:',
          '      - path: login',
          '        status: 700',
          '    release:',
          '      steps: [50, 10, 100]',
        ]),
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('services[0].probe_consecutive'),
        expect.stringMatching(/services\[0\]\.smoke\[0\]\.path.*starting with "\/"/),
        expect.stringContaining('services[0].smoke[0].status'),
        expect.stringMatching(/services\[0\]\.release\.steps.*must increase/),
      ]),
    );
    expect(problemsOf(() => load(service(['    release:', '      steps: [10, 50]'])))).toEqual([
      expect.stringMatching(/release\.steps.*last step must be 100/),
    ]);
  });

  it('config check refuses a step_wait shorter than the reporting delay plus the longest rule window', () => {
    const text = service(['    release:', '      auto_promote: true', '      step_wait: 7m']);
    // Defaults: reporting_delay 3m, longest rule window 5m.
    expect(problemsOf(() => load(text))).toEqual([
      expect.stringMatching(
        /services\[0\]\.release\.step_wait.*7m is shorter than monitoring\.reporting_delay \(3m\) plus the longest rule window \(5m\).*at least 8m/,
      ),
    ]);
    expect(load(text.replace('7m', '8m')).services[0]?.release.step_wait).toBe(8 * 60_000);
    // Without automatic promotion there are no steps to wait for.
    expect(load(text.replace('auto_promote: true', 'auto_promote: false')).services).toHaveLength(1);
  });
});
