import { describe, expect, it } from 'vitest';
import type { AlertRollbackResult } from '../src/alerts/rollback-port.js';
import {
  alertmanagerPayload,
  BASIC,
  BEARER,
  incidentPayload,
  post,
  useAlertsHarness,
} from './helpers/alerts-harness.js';
import { useTempDir } from './helpers/temp.js';

// Dedupe swallows only alerts that were acted on or are being acted on. Alertmanager re-sends a
// firing alert every repeat_interval and Cloud Monitoring re-sends an open incident: when the first
// delivery was refused (cooldown, frozen, busy, no known good revision), a repeat is decided again.

const tempDir = useTempDir();
const start = useAlertsHarness();
const AM = '/v1/alerts/alertmanager';
const CM = '/v1/alerts/cloud-monitoring';
const act = { service: 'shop', runwarden_action: 'rollback' };
const MIN = 60_000;

function outcomes(body: Record<string, unknown>): string[] {
  return (body.alerts as Array<{ outcome: string }>).map((alert) => alert.outcome);
}

const rolledBack: AlertRollbackResult = {
  kind: 'rolled_back',
  to: 'shop-00001-good',
  from: ['shop-00002-bad'],
};

describe('a refused alert is decided again when it is repeated', () => {
  it('the receiver cooldown: the repeat after the cooldown acts', async () => {
    const harness = await start(tempDir());
    const first = alertmanagerPayload([{ labels: act, fingerprint: 'first' }]);
    expect(outcomes((await post(harness.base, AM, first, BEARER)).body)).toEqual(['rolled_back']);
    harness.advance(MIN);
    const second = alertmanagerPayload([{ labels: { ...act, alertname: 'Latency' }, fingerprint: 'second' }]);
    expect(outcomes((await post(harness.base, AM, second, BEARER)).body)).toEqual(['cooldown']);
    // Still within the cooldown: refused again, not swallowed as a duplicate.
    harness.advance(MIN);
    expect(outcomes((await post(harness.base, AM, second, BEARER)).body)).toEqual(['cooldown']);
    harness.advance(9 * MIN);
    expect(outcomes((await post(harness.base, AM, second, BEARER)).body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls.map((call) => call.alert.fingerprint)).toEqual(['first', 'second']);
    // Acted on now: further repeats are duplicates.
    expect(outcomes((await post(harness.base, AM, second, BEARER)).body)).toEqual(['duplicate']);
    expect(harness.rollback.calls).toHaveLength(2);
  });

  for (const reason of ['frozen', 'busy', 'no_stable', 'cooldown', 'stale']) {
    it(`a refusal of the rollback path (${reason}): the repeat acts once the reason is gone`, async () => {
      const harness = await start(tempDir());
      harness.rollback.answer = async () => ({ kind: 'refused', reason, detail: `${reason} for now` });
      const payload = alertmanagerPayload([{ labels: act, fingerprint: `refused-${reason}` }]);
      const refused = await post(harness.base, AM, payload, BEARER);
      expect(refused.status).toBe(200);
      expect(outcomes(refused.body)).toEqual([reason === 'cooldown' ? 'cooldown' : 'refused']);
      expect(harness.store.alerts.list()[0]).toMatchObject({
        outcome: reason === 'cooldown' ? 'cooldown' : 'refused',
        detail: `${reason}: ${reason} for now`,
      });
      harness.rollback.answer = async () => rolledBack;
      const repeat = await post(harness.base, AM, payload, BEARER);
      expect(outcomes(repeat.body)).toEqual(['rolled_back']);
      expect(outcomes((await post(harness.base, AM, payload, BEARER)).body)).toEqual(['duplicate']);
      expect(harness.rollback.calls).toHaveLength(2);
      expect(harness.store.alerts.list()).toHaveLength(1);
    });
  }

  it('an alert that joined a rollback which was refused is decided again too', async () => {
    const harness = await start(tempDir());
    harness.rollback.answer = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { kind: 'refused', reason: 'frozen', detail: 'the service is frozen' };
    };
    const payload = alertmanagerPayload([
      { labels: act, fingerprint: 'leader' },
      { labels: { ...act, alertname: 'Latency' }, fingerprint: 'joiner' },
    ]);
    const refused = await post(harness.base, AM, payload, BEARER);
    expect(refused.body.alerts).toMatchObject([
      { fingerprint: 'leader', outcome: 'refused' },
      { fingerprint: 'joiner', outcome: 'refused', detail: expect.stringMatching(/^joined .*frozen/) },
    ]);
    harness.rollback.answer = async () => rolledBack;
    const repeat = await post(harness.base, AM, payload, BEARER);
    expect(outcomes(repeat.body)).toEqual(['rolled_back', 'coalesced']);
    expect(harness.rollback.calls).toHaveLength(2);
    expect(outcomes((await post(harness.base, AM, payload, BEARER)).body)).toEqual([
      'duplicate',
      'duplicate',
    ]);
  });

  it('a repeat arriving while its alert is being acted on is a duplicate', async () => {
    const harness = await start(tempDir());
    let finish: (result: AlertRollbackResult) => void = () => {};
    harness.rollback.answer = () => new Promise((resolve) => (finish = resolve));
    const payload = alertmanagerPayload([{ labels: act, fingerprint: 'slow' }]);
    const first = post(harness.base, AM, payload, BEARER);
    const deadline = Date.now() + 10_000;
    while (harness.rollback.calls.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(harness.rollback.calls).toHaveLength(1);
    const repeat = await post(harness.base, AM, payload, BEARER);
    expect(outcomes(repeat.body)).toEqual(['duplicate']);
    finish(rolledBack);
    expect(outcomes((await first).body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls).toHaveLength(1);
  });

  it('Cloud Monitoring: the repeat of a refused open incident acts; closing it does nothing', async () => {
    const harness = await start(tempDir());
    harness.rollback.answer = async () => ({ kind: 'refused', reason: 'frozen', detail: 'frozen' });
    const open = incidentPayload({ id: '0.refused-then-open' });
    expect(outcomes((await post(harness.base, CM, open, BASIC)).body)).toEqual(['refused']);
    harness.rollback.answer = async () => rolledBack;
    expect(outcomes((await post(harness.base, CM, open, BASIC)).body)).toEqual(['rolled_back']);
    expect(outcomes((await post(harness.base, CM, open, BASIC)).body)).toEqual(['duplicate']);
    const closed = incidentPayload({ id: '0.refused-then-open', state: 'closed' });
    expect(outcomes((await post(harness.base, CM, closed, BASIC)).body)).toEqual(['resolved']);
    expect(harness.rollback.calls).toHaveLength(2);
  });
});

describe('the receiver cooldown and a newer deploy', () => {
  it('does not apply while a deploy newer than the last alert rollback is being watched', async () => {
    const dir = tempDir();
    const harness = await start(dir);
    const first = alertmanagerPayload([{ labels: act, fingerprint: 'old-deploy' }]);
    expect(outcomes((await post(harness.base, AM, first, BEARER)).body)).toEqual(['rolled_back']);
    const actedAt = Date.now();
    harness.advance(MIN);
    // A watch that started before the rollback is the same incident: the cooldown holds.
    const watches = harness.store.watches;
    const older = watches.create({
      service: 'shop',
      candidate: 'shop-00002-bad',
      stable: 'shop-00001-good',
      startedAt: actedAt - MIN,
      deadline: actedAt + 30 * MIN,
      dryRun: false,
    });
    const during = alertmanagerPayload([{ labels: { ...act, alertname: 'Latency' }, fingerprint: 'same' }]);
    expect(outcomes((await post(harness.base, AM, during, BEARER)).body)).toEqual(['cooldown']);
    watches.end(older.id, 'rolled_back', 'test', actedAt);
    // A newer deploy is being watched: a new incident, so the alert acts within the cooldown.
    watches.create({
      service: 'shop',
      candidate: 'shop-00003-newer',
      stable: 'shop-00001-good',
      startedAt: actedAt + MIN / 2,
      deadline: actedAt + 31 * MIN,
      dryRun: false,
    });
    const newer = alertmanagerPayload([{ labels: act, fingerprint: 'new-deploy' }]);
    expect(outcomes((await post(harness.base, AM, newer, BEARER)).body)).toEqual(['rolled_back']);
    expect(harness.rollback.calls.map((call) => call.alert.fingerprint)).toEqual([
      'old-deploy',
      'new-deploy',
    ]);
  });
});
