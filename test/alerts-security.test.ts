import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useTempDir } from './helpers/temp.js';
import {
  alertmanagerPayload,
  BASIC,
  BEARER,
  incidentPayload,
  PASSWORD,
  post,
  sample,
  TOKEN,
  USER,
  useAlertsHarness,
} from './helpers/alerts-harness.js';

const tempDir = useTempDir();
const start = useAlertsHarness();
const AM = '/v1/alerts/alertmanager';
const CM = '/v1/alerts/cloud-monitoring';
const firing = alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]);

function refusals(text: string, route: string, reason: string): number | undefined {
  return sample(text, 'runwarden_webhook_refusals_total', { route, reason });
}

function refusedLogs(lines: Array<Record<string, unknown>>, reason: string) {
  return lines.filter((line) => line.message === 'webhook request refused' && line.reason === reason);
}

describe('webhook authentication', () => {
  it('answers 401 with no detail for missing, wrong or malformed credentials, logs and counts each, acts on none', async () => {
    const harness = await start(tempDir());
    const wrongBasic = `Basic ${Buffer.from(`${USER}:${PASSWORD}x`).toString('base64')}`;
    const wrongUser = `Basic ${Buffer.from(`x${USER}:${PASSWORD}`).toString('base64')}`;
    const attempts = [
      undefined,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      'Bearer ',
      TOKEN,
      wrongBasic,
      wrongUser,
      'Basic !!!notbase64',
      `Digest ${TOKEN}`,
    ];
    const bodies = new Set<string>();
    for (const authorization of attempts) {
      const response = await post(harness.base, AM, firing, authorization);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="runwarden"');
      bodies.add(JSON.stringify(response.body));
    }
    const cm = await post(harness.base, CM, incidentPayload({ id: 'i-1' }), wrongBasic);
    expect(cm.status).toBe(401);
    bodies.add(JSON.stringify(cm.body));
    // Missing and wrong credentials are indistinguishable.
    expect([...bodies]).toEqual(['{"error":"unauthorized"}']);
    expect(harness.rollback.calls).toHaveLength(0);
    const text = await harness.metricsText();
    expect(refusals(text, 'alertmanager', 'unauthorized')).toBe(attempts.length);
    expect(refusals(text, 'cloud_monitoring', 'unauthorized')).toBe(1);
    expect(refusedLogs(harness.logLines(), 'unauthorized')).toHaveLength(attempts.length + 1);
    // No credential ever reaches a log line.
    const allLogs = JSON.stringify(harness.logLines());
    expect(allLogs).not.toContain(TOKEN);
    expect(allLogs).not.toContain(PASSWORD);
  });

  it('accepts the bearer token and basic auth', async () => {
    const harness = await start(tempDir());
    expect((await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), BEARER)).status).toBe(200);
    expect((await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), BASIC)).status).toBe(200);
    expect(
      (await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), `bearer   ${TOKEN}`)).status,
    ).toBe(200);
  });

  it('refuses everything, and warns at start, when no credentials are configured', async () => {
    const harness = await start(tempDir(), { auth: {} });
    for (const authorization of [undefined, BEARER, BASIC, 'Bearer ']) {
      expect((await post(harness.base, AM, firing, authorization)).status).toBe(401);
    }
    expect(harness.rollback.calls).toHaveLength(0);
    expect(
      harness.logLines().some((line) => String(line.message).startsWith('no webhook credentials configured')),
    ).toBe(true);
  });

  it('accepts basic auth alone when no token is configured, and challenges with Basic', async () => {
    const harness = await start(tempDir(), { auth: { basic_username: USER, basic_password: PASSWORD } });
    expect((await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), BASIC)).status).toBe(200);
    const refused = await post(harness.base, AM, firing, BEARER);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="runwarden"/);
  });
});

describe('webhook bad input', () => {
  it('answers 413 for a body over the limit, declared or streamed, and acts on nothing', async () => {
    const harness = await start(tempDir(), { bodyLimitBytes: 4096 });
    const big = alertmanagerPayload(
      Array.from({ length: 200 }, (_, index) => ({
        labels: { service: 'shop', runwarden_action: 'rollback', n: String(index) },
      })),
    );
    const declared = await post(harness.base, AM, big, BEARER);
    expect(declared.status).toBe(413);
    expect(declared.body.error).toMatch(/larger than 4096 bytes/);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request(`${harness.base}${AM}`, {
        method: 'POST',
        headers: {
          authorization: BEARER,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        },
      });
      req.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', reject);
      const text = JSON.stringify(big);
      for (let at = 0; at < text.length; at += 1000) req.write(text.slice(at, at + 1000));
      req.end();
    });
    expect(streamed).toBe(413);
    expect(harness.rollback.calls).toHaveLength(0);
    expect(refusals(await harness.metricsText(), 'alertmanager', 'body_too_large')).toBe(2);
    expect(refusedLogs(harness.logLines(), 'body_too_large')).toHaveLength(2);
  });

  it('answers 400 naming the field for bad JSON and wrong shapes', async () => {
    const harness = await start(tempDir());
    const cases: Array<[string, unknown, RegExp]> = [
      [AM, '{"version": "4", ', /^\(body\): /],
      [AM, '', /^\(body\): /],
      [AM, [], /^\(top level\): expected object/],
      [AM, { ...firing, version: '3' }, /^version: expected "4"/],
      [AM, { ...firing, alerts: 'x' }, /^alerts: expected array/],
      [
        AM,
        { ...firing, alerts: [{ ...firing.alerts[0], labels: { service: 7 } }] },
        /^alerts\[0\]\.labels\.service: expected string/,
      ],
      [
        AM,
        { ...firing, alerts: [{ ...firing.alerts[0], status: 'burning' }] },
        /^alerts\[0\]\.status: expected one of "firing", "resolved"/,
      ],
      [
        AM,
        { ...firing, alerts: [{ ...firing.alerts[0], startsAt: 'yesterday' }] },
        /^alerts\[0\]\.startsAt: expected an RFC 3339 time/,
      ],
      [CM, { version: '1.2' }, /^incident: required/],
      [CM, { version: '1.2', incident: { state: 'open' } }, /^incident\.incident_id: required/],
      [
        CM,
        { version: '1.2', incident: { incident_id: 'x', state: 'sleeping' } },
        /^incident\.state: expected "open" or "closed"/,
      ],
    ];
    for (const [path, body, problem] of cases) {
      const response = await post(harness.base, path, body, BEARER);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const problems = response.body.problems as string[];
      expect(
        problems.some((line) => problem.test(line)),
        `${JSON.stringify(problems)} ~ ${problem}`,
      ).toBe(true);
    }
    expect(harness.rollback.calls).toHaveLength(0);
    const text = await harness.metricsText();
    expect(refusals(text, 'alertmanager', 'bad_request')).toBe(8);
    expect(refusals(text, 'cloud_monitoring', 'bad_request')).toBe(3);
    expect(refusedLogs(harness.logLines(), 'bad_request')).toHaveLength(11);
  });

  it('answers 422 for an unknown service, and acts on none of the delivery', async () => {
    const harness = await start(tempDir());
    const mixed = alertmanagerPayload([
      { labels: { service: 'shop', runwarden_action: 'rollback' }, fingerprint: 'aaaa' },
      { labels: { service: 'nope', runwarden_action: 'rollback' }, fingerprint: 'bbbb' },
    ]);
    const response = await post(harness.base, AM, mixed, BEARER);
    expect(response.status).toBe(422);
    expect(response.body.problems).toEqual([
      'alerts[1].labels.service: no service named "nope" is configured (known: shop, api)',
    ]);
    const noLabel = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: { runwarden_action: 'rollback' } }]),
      BEARER,
    );
    expect(noLabel.status).toBe(422);
    expect(noLabel.body.problems).toEqual([
      'alerts[0].labels.service: the alert asks for a rollback but has no "service" label',
    ]);
    const cm = await post(
      harness.base,
      CM,
      incidentPayload({ id: 'i-2', resourceLabels: { service_name: 'other' } }),
      BASIC,
    );
    expect(cm.status).toBe(422);
    expect(cm.body.problems).toEqual([
      'incident labels.service_name: no service named "other" is configured (known: shop, api)',
    ]);
    expect(harness.rollback.calls).toHaveLength(0);
    // Nothing was claimed: the valid alert of the refused delivery acts once the sender is fixed.
    const fixed = await post(
      harness.base,
      AM,
      alertmanagerPayload([
        { labels: { service: 'shop', runwarden_action: 'rollback' }, fingerprint: 'aaaa' },
      ]),
      BEARER,
    );
    expect(fixed.status).toBe(200);
    expect(harness.rollback.calls).toHaveLength(1);
    const text = await harness.metricsText();
    expect(refusals(text, 'alertmanager', 'unknown_service')).toBe(2);
    expect(refusals(text, 'cloud_monitoring', 'unknown_service')).toBe(1);
    expect(refusedLogs(harness.logLines(), 'unknown_service')).toHaveLength(3);
  });

  it('answers 404 and 405 outside the routes', async () => {
    const harness = await start(tempDir());
    expect((await fetch(`${harness.base}${AM}`)).status).toBe(405);
    expect((await fetch(`${harness.base}/v1/alerts/other`, { method: 'POST' })).status).toBe(404);
  });
});
