import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  alertmanagerPayload,
  BASIC,
  BEARER,
  incidentPayload,
  post,
  sample,
  useAlertsHarness,
} from './helpers/alerts-harness.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const start = useAlertsHarness();
const AM = '/v1/alerts/alertmanager';
const CM = '/v1/alerts/cloud-monitoring';
const act = { service: 'shop', runwarden_action: 'rollback' };

function outcomes(body: Record<string, unknown>): string[] {
  return (body.alerts as Array<{ outcome: string }>).map((alert) => alert.outcome);
}

describe('Alertmanager receiver', () => {
  it('rolls back once for a firing alert and records it as the trigger with its labels and fingerprint', async () => {
    const harness = await start(tempDir());
    const payload = alertmanagerPayload([
      { labels: { ...act, severity: 'page' }, fingerprint: 'c6eadffa33fcdf37' },
    ]);
    const first = await post(harness.base, AM, payload, BEARER);
    expect(first.status).toBe(200);
    expect(first.body.alerts).toEqual([
      {
        name: 'HighErrorRate',
        fingerprint: 'c6eadffa33fcdf37',
        service: 'shop',
        outcome: 'rolled_back',
        to_revision: 'shop-00001-good',
        detail: 'from shop-00002-bad',
      },
    ]);
    expect(harness.rollback.calls).toEqual([
      {
        service: 'shop',
        dryRun: false,
        reason: 'alert HighErrorRate (alertmanager c6eadffa33fcdf37): 5xx above threshold',
        alert: {
          source: 'alertmanager',
          fingerprint: 'c6eadffa33fcdf37',
          name: 'HighErrorRate',
          labels: { alertname: 'HighErrorRate', ...act, severity: 'page' },
        },
      },
    ]);
    const record = harness.store.alerts.list()[0];
    expect(record).toMatchObject({
      source: 'alertmanager',
      fingerprint: 'c6eadffa33fcdf37',
      service: 'shop',
      outcome: 'rolled_back',
      toRevision: 'shop-00001-good',
      labels: { alertname: 'HighErrorRate', ...act, severity: 'page' },
    });

    // Alertmanager re-sends a firing alert every repeat_interval: it acts once.
    for (let i = 0; i < 3; i++) {
      const again = await post(harness.base, AM, payload, BEARER);
      expect(again.status).toBe(200);
      expect(outcomes(again.body)).toEqual(['duplicate']);
    }
    expect(harness.rollback.calls).toHaveLength(1);
    const text = await harness.metricsText();
    expect(
      sample(text, 'runwarden_alerts_received_total', { source: 'alertmanager', outcome: 'rolled_back' }),
    ).toBe(1);
    expect(
      sample(text, 'runwarden_alerts_received_total', { source: 'alertmanager', outcome: 'duplicate' }),
    ).toBe(3);
  });

  it('does nothing for resolved alerts or alerts without the action label', async () => {
    const harness = await start(tempDir());
    const resolved = await post(
      harness.base,
      AM,
      alertmanagerPayload([
        { labels: act, status: 'resolved' },
        { labels: { service: 'ghost', runwarden_action: 'rollback' }, status: 'resolved' },
      ]),
      BEARER,
    );
    expect(resolved.status).toBe(200);
    expect(outcomes(resolved.body)).toEqual(['resolved', 'resolved']);
    const unaddressed = await post(
      harness.base,
      AM,
      alertmanagerPayload([
        { labels: { service: 'shop' } },
        { labels: { service: 'shop', runwarden_action: 'page' } },
      ]),
      BEARER,
    );
    expect(outcomes(unaddressed.body)).toEqual(['ignored', 'ignored']);
    expect(harness.rollback.calls).toHaveLength(0);
    expect(harness.store.alerts.list()).toEqual([]);
  });

  it('refuses further alerts for a service within its cooldown, and acts again after it', async () => {
    const harness = await start(tempDir());
    const one = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'one' }]),
      BEARER,
    );
    expect(outcomes(one.body)).toEqual(['rolled_back']);
    harness.advance(9 * 60_000);
    const two = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: { ...act, alertname: 'Other' }, fingerprint: 'two' }]),
      BEARER,
    );
    expect(outcomes(two.body)).toEqual(['cooldown']);
    expect((two.body.alerts as Array<{ detail: string }>)[0]?.detail).toMatch(/within the cooldown/);
    // Another service is not affected by shop's cooldown.
    const api = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: { service: 'api', runwarden_action: 'rollback' }, fingerprint: 'api' }]),
      BEARER,
    );
    expect(outcomes(api.body)).toEqual(['dry_run']);
    harness.advance(2 * 60_000);
    const three = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'three' }]),
      BEARER,
    );
    expect(outcomes(three.body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls.map((call) => call.service)).toEqual(['shop', 'api', 'shop']);
  });

  it('reports a cooldown refusal of the rollback path as cooldown, and other refusals as refused', async () => {
    const harness = await start(tempDir());
    harness.rollback.answer = async () => ({
      kind: 'refused',
      reason: 'cooldown',
      detail: 'the watch rolled back at 12:00',
    });
    const first = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'a' }]),
      BEARER,
    );
    expect(first.body.alerts).toMatchObject([
      { outcome: 'cooldown', detail: 'cooldown: the watch rolled back at 12:00' },
    ]);
    harness.rollback.answer = async () => ({
      kind: 'refused',
      reason: 'no_stable',
      detail: 'no last known good revision',
    });
    const second = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'b' }]),
      BEARER,
    );
    expect(second.body.alerts).toMatchObject([{ outcome: 'refused' }]);
    harness.rollback.answer = async () => ({ kind: 'noop', to: 'shop-00001-good' });
    const third = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'c' }]),
      BEARER,
    );
    expect(third.body.alerts).toMatchObject([
      { outcome: 'already_on_target', to_revision: 'shop-00001-good' },
    ]);
    // None of these rolled back, so none started the receivers' cooldown.
    expect(harness.rollback.calls).toHaveLength(3);
  });

  it('honours dry-run: per service, and for every alert when alerts.dry_run is set', async () => {
    const perService = await start(tempDir());
    const api = await post(
      perService.base,
      AM,
      alertmanagerPayload([{ labels: { service: 'api', runwarden_action: 'rollback' } }]),
      BEARER,
    );
    expect(outcomes(api.body)).toEqual(['dry_run']);
    expect(perService.rollback.calls.map((call) => call.dryRun)).toEqual([true]);

    const global = await start(tempDir(), { alerts: { dry_run: true } });
    const shop = await post(global.base, AM, alertmanagerPayload([{ labels: act }]), BEARER);
    expect(shop.body.alerts).toMatchObject([
      { outcome: 'dry_run', detail: 'dry run: would move traffic from shop-00002-bad' },
    ]);
    expect(global.rollback.calls.map((call) => call.dryRun)).toEqual([true]);
  });

  it('answers 503 when the rollback fails and lets the retried delivery act', async () => {
    const harness = await start(tempDir());
    harness.rollback.answer = async () => {
      throw new Error('update service: UNAVAILABLE');
    };
    const payload = alertmanagerPayload([{ labels: act, fingerprint: 'retry-me' }]);
    const failed = await post(harness.base, AM, payload, BEARER);
    expect(failed.status).toBe(503);
    expect(failed.body.alerts).toMatchObject([{ outcome: 'failed', detail: 'update service: UNAVAILABLE' }]);
    harness.rollback.answer = async () => ({
      kind: 'rolled_back',
      to: 'shop-00001-good',
      from: ['shop-00002-bad'],
    });
    const retried = await post(harness.base, AM, payload, BEARER);
    expect(retried.status).toBe(200);
    expect(outcomes(retried.body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls).toHaveLength(2);
  });

  it('treats a new firing of the same alert (same fingerprint, later start) as a new alert', async () => {
    const harness = await start(tempDir());
    await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'f', startsAt: '2025-01-02T03:00:00Z' }]),
      BEARER,
    );
    harness.advance(60 * 60_000);
    const later = await post(
      harness.base,
      AM,
      alertmanagerPayload([{ labels: act, fingerprint: 'f', startsAt: '2025-01-02T04:00:00Z' }]),
      BEARER,
    );
    expect(outcomes(later.body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls).toHaveLength(2);
  });

  it('acts again on a repeat past the dedupe window, and prunes claims past it after acting', async () => {
    const harness = await start(tempDir(), { alerts: { dedupe_window: '1h' } });
    const payload = (fingerprints: string[]) =>
      alertmanagerPayload(fingerprints.map((fingerprint) => ({ labels: act, fingerprint })));
    const first = await post(harness.base, AM, payload(['a', 'b']), BEARER);
    expect(outcomes(first.body)).toEqual(['rolled_back', 'coalesced']);
    const within = await post(harness.base, AM, payload(['a']), BEARER);
    expect(outcomes(within.body)).toEqual(['duplicate']);
    // Past the window (and the service's 10 min cooldown): the claim on 'a' is forgotten by the
    // claim itself, the prune of 'b' comes after the rollback.
    harness.advance(2 * 60 * 60_000);
    const repeat = await post(harness.base, AM, payload(['a']), BEARER);
    expect(outcomes(repeat.body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls).toHaveLength(2);
    expect(harness.store.alerts.list().map((record) => [record.fingerprint, record.outcome])).toEqual([
      ['a', 'rolled_back'],
    ]);
  });

  it('turns a flood of 1,000 concurrent firing alerts for one service into exactly one rollback', async () => {
    // About single flight: every request is handled at once (the in-flight cap has its own test).
    const harness = await start(tempDir(), { alerts: { max_concurrent_requests: 1024 } });
    const agent = new Agent({ connections: 200 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 1000 }, async (_, index) => {
          const payload = alertmanagerPayload([
            { labels: { ...act, instance: `i${index}` }, fingerprint: `flood${index}` },
          ]);
          const response = await undiciFetch(`${harness.base}${AM}`, {
            method: 'POST',
            headers: { authorization: BEARER, 'content-type': 'application/json' },
            body: JSON.stringify(payload),
            dispatcher: agent,
          });
          return { status: response.status, body: (await response.json()) as Record<string, unknown> };
        }),
      );
      expect(responses.every((response) => response.status === 200)).toBe(true);
      const all = responses.flatMap((response) => outcomes(response.body));
      expect(all.filter((outcome) => outcome === 'rolled_back')).toHaveLength(1);
      expect(all.every((outcome) => ['rolled_back', 'coalesced', 'cooldown'].includes(outcome))).toBe(true);
      expect(harness.rollback.calls).toHaveLength(1);
    } finally {
      await agent.close();
    }
  });
});

describe('Cloud Monitoring receiver', () => {
  it('rolls back for an open incident once, and does nothing when it closes', async () => {
    const harness = await start(tempDir());
    const open = await post(harness.base, CM, incidentPayload({ id: '0.mzaw5l8dr2hb' }), BASIC);
    expect(open.status).toBe(200);
    expect(open.body.alerts).toMatchObject([
      { name: 'shop 5xx', fingerprint: '0.mzaw5l8dr2hb', service: 'shop', outcome: 'rolled_back' },
    ]);
    expect(harness.rollback.calls[0]?.alert).toMatchObject({
      source: 'cloud_monitoring',
      fingerprint: '0.mzaw5l8dr2hb',
      labels: {
        service_name: 'shop',
        revision_name: 'shop-00002-bad',
        runwarden_action: 'rollback',
        response_code_class: '5xx',
      },
    });
    const again = await post(harness.base, CM, incidentPayload({ id: '0.mzaw5l8dr2hb' }), BEARER);
    expect(outcomes(again.body)).toEqual(['duplicate']);
    const closed = await post(
      harness.base,
      CM,
      incidentPayload({ id: '0.mzaw5l8dr2hb', state: 'closed' }),
      BASIC,
    );
    expect(outcomes(closed.body)).toEqual(['resolved']);
    expect(harness.rollback.calls).toHaveLength(1);
  });

  it('ignores incidents whose policy does not ask for a rollback', async () => {
    const harness = await start(tempDir());
    const response = await post(
      harness.base,
      CM,
      incidentPayload({ id: 'x', userLabels: { runwarden_action: 'notify' } }),
      BASIC,
    );
    expect(outcomes(response.body)).toEqual(['ignored']);
    expect(harness.rollback.calls).toHaveLength(0);
  });

  it('takes the service from the label configured for Cloud Monitoring, and the state in any case', async () => {
    const harness = await start(tempDir(), { alerts: { cloud_monitoring_service_label: 'app' } });
    const payload = incidentPayload({
      id: 'y',
      userLabels: { app: 'shop' },
      resourceLabels: { service_name: 'unrelated' },
    });
    const upper = { ...payload, incident: { ...payload.incident, state: 'OPEN' } };
    const response = await post(harness.base, CM, upper, BASIC);
    expect(outcomes(response.body)).toEqual(['rolled_back']);
  });
});
