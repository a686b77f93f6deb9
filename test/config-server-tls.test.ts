import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, printableConfig, REDACTED } from '../src/config/load.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function write(dir: string, text: string): string {
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(file, text);
  return file;
}

describe('server.tls and server.trust_proxy config', () => {
  it('defaults: plain HTTP, X-Forwarded-For not trusted', () => {
    const { config } = loadConfig({ path: write(tempDir(), ''), env: {} });
    expect(config.server.tls).toBeUndefined();
    expect(config.server.trust_proxy).toBe(false);
  });

  it('resolves the TLS files against the config file folder and checks them every minute by default', () => {
    const dir = tempDir();
    const file = write(
      dir,
      'server:\n  tls: { cert_file: tls/fullchain.pem, key_file: /etc/k.pem, client_ca_file: ca.pem }\n',
    );
    const { config } = loadConfig({ path: file, env: { RUNWARDEN_SERVER_TRUST_PROXY: 'true' } });
    expect(config.server.tls).toEqual({
      cert_file: path.join(dir, 'tls/fullchain.pem'),
      key_file: '/etc/k.pem',
      client_ca_file: path.join(dir, 'ca.pem'),
      check_interval: 60_000,
    });
    expect(config.server.trust_proxy).toBe(true);
  });

  it('names what is missing: a certificate without its key, a key without its certificate, a client CA alone', () => {
    expect(
      problemsOf(() =>
        loadConfig({ path: write(tempDir(), 'server:\n  tls: { cert_file: c.pem }\n'), env: {} }),
      ),
    ).toEqual(['server.tls.key_file: expected the path of the PEM private key of cert_file']);
    expect(
      problemsOf(() =>
        loadConfig({ path: write(tempDir(), 'server:\n  tls: { key_file: k.pem }\n'), env: {} }),
      ),
    ).toEqual([
      'server.tls.cert_file: expected the path of a PEM certificate chain (the server certificate first)',
    ]);
    expect(
      problemsOf(() =>
        loadConfig({
          path: write(tempDir(), 'server:\n  tls: { client_ca_file: ca.pem, check_interval: soon }\n'),
          env: {},
        }),
      ),
    ).toEqual([
      'server.tls.cert_file: expected the path of a PEM certificate chain (the server certificate first)',
      'server.tls.key_file: expected the path of the PEM private key of cert_file',
      'server.tls.check_interval: expected a duration like "7d", got "soon"',
    ]);
    expect(
      problemsOf(() =>
        loadConfig({
          path: write(
            tempDir(),
            'server:\n  tls: { cert_file: c.pem, key_file: k.pem, check_interval: 0s }\n',
          ),
          env: {},
        }),
      ),
    ).toEqual(['server.tls.check_interval: expected at least 100ms']);
    expect(
      problemsOf(() =>
        loadConfig({ path: write(tempDir(), 'server:\n  trust_proxy: yes please\n'), env: {} }),
      )[0],
    ).toMatch(/^server\.trust_proxy: /);
  });

  it('alerts.cloud_monitoring_token: a secret (from a file, never printed), at least 16 characters', () => {
    const dir = tempDir();
    const tokenFile = path.join(dir, 'cm-token');
    writeFileSync(tokenFile, 'cm-file-token-0123456789abcdef\n');
    const { config } = loadConfig({
      path: write(dir, `alerts:\n  cloud_monitoring_token_file: ${tokenFile}\n`),
      env: {},
    });
    expect(config.alerts.cloud_monitoring_token).toBe('cm-file-token-0123456789abcdef');
    expect(
      (printableConfig(config) as { alerts: Record<string, unknown> }).alerts.cloud_monitoring_token,
    ).toBe(REDACTED);
    expect(
      problemsOf(() =>
        loadConfig({ path: write(tempDir(), ''), env: { RUNWARDEN_ALERTS_CLOUD_MONITORING_TOKEN: 'short' } }),
      ),
    ).toEqual([
      'alerts.cloud_monitoring_token: expected a token of at least 16 characters (from RUNWARDEN_ALERTS_CLOUD_MONITORING_TOKEN)',
    ]);
  });
});
