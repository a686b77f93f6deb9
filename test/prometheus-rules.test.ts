import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { startDaemon } from '../src/app/daemon.js';
import { createLogger } from '../src/telemetry/logger.js';
import { useTempDir } from './helpers/temp.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

// promtool comes with Debian's `prometheus` package, which CI installs.
const RULES = fileURLToPath(new URL('../config/prometheus/alerts.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('../config/prometheus/alerts.test.yml', import.meta.url));
// The restore drill rules' windows are days: their tests run on an hourly evaluation of their own.
const DRILL_RULE_TESTS = fileURLToPath(
  new URL('../config/prometheus/alerts-drill.test.yml', import.meta.url),
);
const PROMETHEUS_EXAMPLE = fileURLToPath(
  new URL('../config/prometheus/prometheus.example.yml', import.meta.url),
);
const ALERTMANAGER_EXAMPLE = fileURLToPath(
  new URL('../config/prometheus/alertmanager.example.yml', import.meta.url),
);
const tempDir = useTempDir();

function run(binary: string, debianPackage: string, args: string[], input?: string) {
  const result = spawnSync(binary, args, { input, encoding: 'utf8', timeout: 60_000 });
  if (result.error)
    throw new Error(
      `${binary} could not run (install Debian package "${debianPackage}"): ${result.error.message}`,
    );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function promtool(args: string[], input?: string) {
  return run('promtool', 'prometheus', args, input);
}

describe('Prometheus rules shipped in config/prometheus', () => {
  it('pass promtool check rules', () => {
    const result = promtool(['check', 'rules', RULES]);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status, result.output).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const result = promtool(['test', 'rules', RULE_TESTS, DRILL_RULE_TESTS]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('example Prometheus and Alertmanager configs are valid (promtool check config, amtool check-config)', () => {
    const prometheus = promtool(['check', 'config', PROMETHEUS_EXAMPLE]);
    expect(prometheus.status, prometheus.output).toBe(0);
    expect(prometheus.output).toContain('SUCCESS: 1 rule files found');
    const alertmanager = run('amtool', 'prometheus-alertmanager', ['check-config', ALERTMANAGER_EXAMPLE]);
    expect(alertmanager.status, alertmanager.output).toBe(0);
  });

  it('a broken rule file is caught (the check is real)', () => {
    const broken = path.join(tempDir(), 'broken.yml');
    writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n');
    expect(promtool(['check', 'rules', broken]).status).not.toBe(0);
  });
});

describe('/metrics', () => {
  it('passes promtool check metrics', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'runwarden.yaml');
    writeFileSync(
      file,
      'state_dir: ./state\nserver: { address: "127.0.0.1:0" }\nlog: { format: json }\nbackup: { enabled: false }\n',
    );
    const { config } = loadConfig({ path: file, env: {} });
    const logger = createLogger({
      format: 'json',
      destination: new Writable({ write: (_c, _e, done) => done() }),
    });
    const daemon = await startDaemon(config, logger);
    try {
      const text = await (await fetch(`http://${daemon.address}/metrics`)).text();
      expect(text).toContain(
        'runwarden_webhook_refusals_total{route="alertmanager",reason="unauthorized"} 0',
      );
      const result = promtool(['check', 'metrics'], text);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    } finally {
      await daemon.stop('test end');
    }
  });
});
