import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, printableConfig, REDACTED } from '../src/config/load.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('alerts config', () => {
  it('has safe defaults: no credentials (so every request is refused) and the documented labels', () => {
    const { config } = loadConfig({ path: write(tempDir(), 'c.yaml', ''), env: {} });
    expect(config.alerts).toEqual({
      service_label: 'service',
      cloud_monitoring_service_label: 'service_name',
      action_label: 'runwarden_action',
      action_value: 'rollback',
      dedupe_window: 7 * 24 * 3_600_000,
      max_concurrent_requests: 16,
      dry_run: false,
    });
  });

  it('reads the secrets from files or from the environment, and never prints them', () => {
    const dir = tempDir();
    const tokenFile = write(dir, 'token', 'file-token-0123456789abcdef\n');
    const file = write(dir, 'c.yaml', `alerts:\n  bearer_token_file: ${tokenFile}\n  basic_username: am\n`);
    const passwordFile = write(dir, 'password', 'env-file-password-0123');
    const { config } = loadConfig({
      path: file,
      env: { RUNWARDEN_ALERTS_BASIC_PASSWORD_FILE: passwordFile },
    });
    expect(config.alerts.bearer_token).toBe('file-token-0123456789abcdef');
    expect(config.alerts.basic_password).toBe('env-file-password-0123');
    const printed = printableConfig(config) as { alerts: Record<string, unknown> };
    expect(printed.alerts.bearer_token).toBe(REDACTED);
    expect(printed.alerts.basic_password).toBe(REDACTED);
    expect(printed.alerts.basic_username).toBe('am');

    const fromEnv = loadConfig({
      path: write(dir, 'd.yaml', ''),
      env: { RUNWARDEN_ALERTS_BEARER_TOKEN: 'env-token-0123456789abcdef' },
    });
    expect(fromEnv.config.alerts.bearer_token).toBe('env-token-0123456789abcdef');
  });

  it('names every problem: short secrets, half of basic auth, bad label names', () => {
    const file = write(
      tempDir(),
      'c.yaml',
      'alerts:\n  bearer_token: short\n  basic_username: am\n  service_label: "my-label"\n  dedupe_window: soon\n',
    );
    expect(problemsOf(() => loadConfig({ path: file, env: {} }))).toEqual([
      'alerts.bearer_token: expected a token of at least 16 characters',
      'alerts.service_label: expected a label name: letters, digits and _, not starting with a digit',
      'alerts.dedupe_window: expected a duration like "7d", got "soon"',
      'alerts.basic_password: basic auth needs both basic_username and basic_password',
    ]);
  });
});
