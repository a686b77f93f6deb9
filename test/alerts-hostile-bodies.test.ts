import { type ClientRequest, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { alertmanagerPayloadSchema } from '../src/alerts/alertmanager-payload.js';
import { MAX_BAD_ELEMENTS } from '../src/alerts/bounded-schemas.js';
import { cloudMonitoringPayloadSchema } from '../src/alerts/cloud-monitoring-payload.js';
import { JsonDepthScan } from '../src/http/json-depth.js';
import {
  alertmanagerPayload,
  BEARER,
  incidentPayload,
  post,
  sample,
  useAlertsHarness,
} from './helpers/alerts-harness.js';
import { useTempDir } from './helpers/temp.js';

// Authenticated senders can still be hostile (a leaked token, a broken proxy): a body nested
// thousands deep is refused before JSON.parse, and the webhook requests handled at once are capped.

const tempDir = useTempDir();
const start = useAlertsHarness();
const AM = '/v1/alerts/alertmanager';
const CM = '/v1/alerts/cloud-monitoring';
const BACKUPS = '/v1/backups';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

function refusals(text: string, route: string, reason: string): number | undefined {
  return sample(text, 'runwarden_webhook_refusals_total', { route, reason });
}

describe('the JSON depth scan', () => {
  it('counts arrays and objects, not brackets inside strings or after escapes', () => {
    const depthOf = (text: string, limit: number) => new JsonDepthScan(limit).push(Buffer.from(text));
    expect(depthOf(nested(64), 64)).toBe(true);
    expect(depthOf(nested(65), 64)).toBe(false);
    expect(depthOf('{"a":{"b":[{"c":1}]}}', 4)).toBe(true);
    expect(depthOf('{"a":{"b":[{"c":1}]}}', 3)).toBe(false);
    expect(depthOf(`{"label":"${'['.repeat(1000)}{{{"}`, 1)).toBe(true);
    // An escaped quote does not end the string; an escaped backslash does not escape the quote.
    expect(depthOf(`["\\"[[[", "\\\\"]`, 1)).toBe(true);
    expect(depthOf(`["\\\\", [[]]]`, 2)).toBe(false);
    // Multi-byte characters never look like brackets.
    expect(depthOf(`["\u{1F600}[[[\u00e9"]`, 1)).toBe(true);
  });

  it('keeps its state across chunk boundaries', () => {
    const text = `{"s":"a\\"[[[[","t":[[[` + `]]]}`;
    for (let cut = 0; cut <= text.length; cut++) {
      const scan = new JsonDepthScan(3);
      const bytes = Buffer.from(text);
      expect(scan.push(bytes.subarray(0, cut)) && scan.push(bytes.subarray(cut))).toBe(false);
      const loose = new JsonDepthScan(4);
      expect(loose.push(bytes.subarray(0, cut)) && loose.push(bytes.subarray(cut))).toBe(true);
    }
  });
});

describe('bodies nested too deep', () => {
  it('are refused with 400 naming the limit of 64 on every JSON route, before anything acts', async () => {
    const backups = { backup: async () => Promise.reject(new Error('no backup expected')) };
    const harness = await start(tempDir(), { backups });
    for (const path of [AM, CM, BACKUPS]) {
      const response = await post(harness.base, path, nested(20_000), BEARER);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('body nests deeper than 64 levels');
      expect(response.body.problems).toEqual(['(body): arrays and objects nest more than 64 levels deep']);
    }
    // 64 levels pass the scan and reach the schema, which says what is wrong with the shape.
    const deepButAllowed = await post(harness.base, AM, nested(64), BEARER);
    expect(deepButAllowed.status).toBe(400);
    expect(deepButAllowed.body.error).toBe('body has the wrong shape');
    // Brackets inside label values do not count.
    const bracketLabels = alertmanagerPayload([
      { labels: { note: `${'['.repeat(5000)}${'{'.repeat(5000)}` } },
    ]);
    expect((await post(harness.base, AM, bracketLabels, BEARER)).status).toBe(200);
    const incident = incidentPayload({ id: 'deep-ok', userLabels: { note: '['.repeat(200) } });
    expect((await post(harness.base, CM, incident, BEARER)).status).toBe(200);
    expect(harness.rollback.calls).toHaveLength(1);
    const text = await harness.metricsText();
    expect(refusals(text, 'alertmanager', 'too_deep')).toBe(1);
    expect(refusals(text, 'cloud_monitoring', 'too_deep')).toBe(1);
    expect(refusals(text, 'backups', 'too_deep')).toBe(1);
  });

  it('are refused while they stream in, without waiting for the rest of the body', async () => {
    const harness = await start(tempDir());
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${harness.base}${AM}`, {
        method: 'POST',
        headers: {
          authorization: BEARER,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        },
      });
      req.on('response', (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      // The opening brackets and nothing more: the answer comes although the body never ends.
      req.write('['.repeat(100));
    });
    expect(status).toBe(400);
    expect(JSON.parse(body).error).toBe('body nests deeper than 64 levels');
  });
});

describe('wide malformed bodies', () => {
  const malformed = { status: 'firing', labels: { a: 1 }, startsAt: 'x' };
  const wide = {
    version: '4',
    status: 'firing',
    receiver: 'r',
    groupKey: 'k',
    alerts: Array.from({ length: 20_000 }, () => malformed),
  };

  it('stop being checked after a few bad elements (arrays and label sets)', () => {
    // Every one of the 20,000 alerts has two problems; only the first few alerts are looked at.
    const issues = alertmanagerPayloadSchema.safeParse(wide).error?.issues ?? [];
    expect(issues.length).toBe(2 * MAX_BAD_ELEMENTS);
    expect(issues[0]?.path).toEqual(['alerts', 0, 'labels', 'a']);
    const manyLabels = Object.fromEntries(
      Array.from({ length: 50_000 }, (_, index) => [`l${index}`, [index]]),
    );
    const incident = incidentPayload({ id: 'wide' });
    const wideIncident = { ...incident, incident: { ...incident.incident, policy_user_labels: manyLabels } };
    expect(cloudMonitoringPayloadSchema.safeParse(wideIncident).error?.issues).toHaveLength(MAX_BAD_ELEMENTS);
    const goodAlerts = {
      ...wide,
      alerts: wide.alerts.map(() => ({ ...malformed, labels: { a: 'x' }, startsAt: '2025-01-02T03:04:05Z' })),
    };
    expect(alertmanagerPayloadSchema.safeParse(goodAlerts).data?.alerts).toHaveLength(20_000);
  });

  it('are refused with 400 listing the first problems', async () => {
    const harness = await start(tempDir(), { bodyLimitBytes: 2 * 1024 * 1024 });
    const response = await post(harness.base, AM, wide, BEARER);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('body has the wrong shape');
    expect((response.body.problems as string[]).slice(0, 2)).toEqual([
      'alerts[0].labels.a: expected string, got 1',
      expect.stringMatching(/^alerts\[0\]\.startsAt: /),
    ]);
    expect(response.body.problems).toHaveLength(20);
  });
});

describe('webhook requests at once', () => {
  /** Starts a request whose body is never finished; resolves once the server has taken it on. */
  function hold(base: string, path: string): Promise<ClientRequest & { status: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, {
        method: 'POST',
        headers: {
          authorization: BEARER,
          'content-type': 'application/json',
          'content-length': '100000',
          // The server answers 100 Continue in the same turn as it hands the request to its route,
          // so the continue event means the request holds its place.
          expect: '100-continue',
        },
      }) as ClientRequest & { status: Promise<number> };
      req.status = new Promise((done) =>
        req.on('response', (response) => {
          response.resume();
          done(response.statusCode ?? 0);
        }),
      );
      req.on('error', reject);
      req.on('continue', () => resolve(req));
      req.flushHeaders();
    });
  }

  it('past alerts.max_concurrent_requests answers 503 with Retry-After, reads nothing and acts on nothing', async () => {
    const backups = { backup: async () => Promise.reject(new Error('no backup expected')) };
    const harness = await start(tempDir(), { alerts: { max_concurrent_requests: 2 }, backups });
    const first = await hold(harness.base, AM);
    const second = await hold(harness.base, CM);
    const payload = alertmanagerPayload([{ labels: { service: 'shop', runwarden_action: 'rollback' } }]);
    for (const path of [AM, CM, BACKUPS]) {
      const refused = await post(
        harness.base,
        path,
        path === CM ? incidentPayload({ id: 'x' }) : payload,
        BEARER,
      );
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.body.error).toMatch(
        /more than 2 webhook requests at once \(alerts\.max_concurrent_requests\)/,
      );
    }
    expect(harness.rollback.calls).toHaveLength(0);
    // A held request that finishes gives its place back.
    const body = JSON.stringify(payload);
    first.end(body.padEnd(100_000, ' '));
    expect(await first.status).toBe(200);
    expect(harness.rollback.calls).toHaveLength(1);
    const after = await post(harness.base, AM, alertmanagerPayload([{ labels: {} }]), BEARER);
    expect(after.status).toBe(200);
    second.destroy();
    const text = await harness.metricsText();
    expect(refusals(text, 'alertmanager', 'too_many_requests')).toBe(1);
    expect(refusals(text, 'cloud_monitoring', 'too_many_requests')).toBe(1);
    expect(refusals(text, 'backups', 'too_many_requests')).toBe(1);
  });
});
