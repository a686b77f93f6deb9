import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SLOWDOWN } from './helpers/deadlines.js';
import {
  alertmanagerPayload,
  BASIC,
  incidentPayload,
  post,
  TOKEN,
  useAlertsHarness,
} from './helpers/alerts-harness.js';
import { startAlertmanager, useTools } from './helpers/prometheus.js';
import { useTempDir } from './helpers/temp.js';
import { httpsRequest, makeCa, makeCert } from './helpers/tls-certs.js';
import { waitFor } from './helpers/wait.js';

// Every way a real sender authenticates: Cloud Monitoring's webhook_tokenauth (a query token) and
// webhook_basicauth channels, and Alertmanager with bearer, basic or a client certificate.

const tempDir = useTempDir();
const start = useAlertsHarness();
const tool = useTools();
const AM = '/v1/alerts/alertmanager';
const CM = '/v1/alerts/cloud-monitoring';
const CM_TOKEN = 'cm-query-token-0123456789abcdef';
const WRONG_TOKEN = 'wrong-query-token-9876543210fedcba';
const firing = alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]);

describe('Cloud Monitoring webhook_tokenauth (?auth_token=)', () => {
  it('accepts alerts.cloud_monitoring_token as auth_token on the Cloud Monitoring route only', async () => {
    const harness = await start(tempDir(), {
      auth: { bearer_token: TOKEN, cloud_monitoring_token: CM_TOKEN },
    });
    const accepted = await post(harness.base, `${CM}?auth_token=${CM_TOKEN}`, incidentPayload({ id: 'i-1' }));
    expect(accepted.status).toBe(200);
    expect(harness.rollback.calls).toHaveLength(1);

    const refused = [
      `${CM}?auth_token=${WRONG_TOKEN}`,
      `${CM}?auth_token=${CM_TOKEN.slice(0, -1)}`,
      `${CM}?auth_token=`,
      `${CM}?auth_token=${TOKEN}`, // the bearer token is a header credential, never a query one
      `${AM}?auth_token=${CM_TOKEN}`, // no other route takes a credential from the URL
    ];
    for (const target of refused) {
      const body = target.startsWith(AM) ? firing : incidentPayload({ id: 'i-2' });
      const response = await post(harness.base, target, body);
      expect(response.status, target).toBe(401);
      expect(response.body).toEqual({ error: 'unauthorized' });
    }
    expect(harness.rollback.calls).toHaveLength(1);
  });

  it('never writes the token to a log line, whatever happens to the request', async () => {
    const harness = await start(tempDir(), { auth: { cloud_monitoring_token: CM_TOKEN } });
    const url = (token: string) => `${CM}?auth_token=${token}`;
    // Refused, malformed, unknown service, acted, and a rollback that failed.
    expect((await post(harness.base, url(WRONG_TOKEN), incidentPayload({ id: 'i-1' }))).status).toBe(401);
    expect((await post(harness.base, url(CM_TOKEN), '{"incident": ')).status).toBe(400);
    expect((await post(harness.base, url(CM_TOKEN), { version: '1.2' })).status).toBe(400);
    const unknown = incidentPayload({ id: 'i-2', resourceLabels: { service_name: 'nope' } });
    expect((await post(harness.base, url(CM_TOKEN), unknown)).status).toBe(422);
    expect((await post(harness.base, url(CM_TOKEN), incidentPayload({ id: 'i-3' }))).status).toBe(200);
    harness.rollback.answer = async () => {
      throw new Error('traffic update failed');
    };
    harness.advance(60 * 60_000); // past the service's cooldown
    expect((await post(harness.base, url(CM_TOKEN), incidentPayload({ id: 'i-4' }))).status).toBe(503);

    const lines = harness.logLines();
    expect(lines.length).toBeGreaterThan(5);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(CM_TOKEN);
    expect(text).not.toContain(WRONG_TOKEN);
  });
});

describe('Cloud Monitoring webhook_basicauth and Alertmanager bearer/basic', () => {
  it('accepts basic auth on the Cloud Monitoring route and bearer or basic on the Alertmanager route', async () => {
    const harness = await start(tempDir());
    expect((await post(harness.base, CM, incidentPayload({ id: 'i-1' }), BASIC)).status).toBe(200);
    expect(
      (await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), `Bearer ${TOKEN}`)).status,
    ).toBe(200);
    expect((await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), BASIC)).status).toBe(200);
  });
});

describe('Alertmanager with mutual TLS', () => {
  it('a real Alertmanager presenting a client certificate the client CA signed delivers without a token', async () => {
    const dir = tempDir();
    const serverCa = makeCa(path.join(dir, 'server-ca'), 'server-ca');
    const served = makeCert(serverCa, path.join(dir, 'certs'), 'runwarden', {
      serial: '4001',
      usage: 'server',
    });
    const clientCa = makeCa(path.join(dir, 'client-ca'), 'client-ca');
    const client = makeCert(clientCa, path.join(dir, 'certs'), 'alertmanager', {
      serial: '4002',
      usage: 'client',
    });
    const harness = await start(path.join(dir, 'state'), {
      // No bearer, basic or query credential: the certificate is the credential.
      auth: {},
      server: { tls: { cert_file: served.cert, key_file: served.key, client_ca_file: clientCa.cert } },
    });
    expect(harness.base).toMatch(/^https:/);
    // Without a certificate, the connection is refused before any route is reached.
    await expect(
      httpsRequest(`${harness.base}${AM}`, {
        ca: serverCa.cert,
        method: 'POST',
        body: JSON.stringify(firing),
      }),
    ).rejects.toThrow();

    const groupWaitMs = 1_000;
    const alertmanager = await tool(
      startAlertmanager(
        path.join(dir, 'alertmanager'),
        stringify({
          route: { receiver: 'runwarden', group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
          receivers: [
            {
              name: 'runwarden',
              webhook_configs: [
                {
                  url: `${harness.base}${AM}`,
                  send_resolved: false,
                  http_config: {
                    tls_config: { ca_file: serverCa.cert, cert_file: client.cert, key_file: client.key },
                  },
                },
              ],
            },
          ],
        }),
      ),
    );
    const alert = [{ labels: { alertname: 'HighErrorRate', service: 'shop', runwarden_action: 'rollback' } }];
    const posted = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alert),
    });
    expect(posted.status).toBe(200);
    await waitFor(
      () => (harness.rollback.calls.length > 0 ? true : undefined),
      'Alertmanager to deliver the alert over mutual TLS',
      { ms: SLOWDOWN * 2 * groupWaitMs, basis: `${SLOWDOWN} x (group_wait + group_interval)` },
    );
    expect(harness.rollback.calls[0]).toMatchObject({ service: 'shop' });
  });
});

describe('server.trust_proxy', () => {
  async function refusedRemote(trustProxy: boolean, forwardedFor: string) {
    const harness = await start(tempDir(), { server: { trust_proxy: trustProxy } });
    const response = await fetch(`${harness.base}${AM}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify(firing),
    });
    expect(response.status).toBe(401);
    const line = harness.logLines().find((entry) => entry.message === 'webhook request refused');
    return { remote: line?.remote, peer: line?.peer };
  }

  it('off (the default): the connecting address, whatever X-Forwarded-For says', async () => {
    expect(await refusedRemote(false, '203.0.113.7, 10.0.0.1')).toEqual({
      remote: '127.0.0.1',
      peer: undefined,
    });
  });

  it('on: the first X-Forwarded-For entry, with the proxy as peer; an entry that is no address is ignored', async () => {
    expect(await refusedRemote(true, '203.0.113.7, 10.0.0.1')).toEqual({
      remote: '203.0.113.7',
      peer: '127.0.0.1',
    });
    expect(await refusedRemote(true, '2001:db8::7')).toEqual({ remote: '2001:db8::7', peer: '127.0.0.1' });
    expect(await refusedRemote(true, 'evil"name, 10.0.0.1')).toEqual({
      remote: '127.0.0.1',
      peer: undefined,
    });
  });
});
