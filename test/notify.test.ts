import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/event-bus.js';
import { NotificationDispatcher } from '../src/notify/dispatcher.js';
import { notifyOnEvents } from '../src/notify/from-events.js';
import type { Notification } from '../src/notify/notification.js';
import { NO_RESTORE_POINT } from '../src/core/restore-point.js';
import { Store } from '../src/store/store.js';
import { recordHistory } from '../src/watch/history-recorder.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-notify-');
import { createLogger } from '../src/telemetry/logger.js';

const silent = createLogger({
  format: 'json',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Received {
  path: string;
  body: unknown;
}

/** A real HTTP receiver; `answer` picks the status per request (or never answers with 'hang'). */
async function receiver(answer: (count: number) => number | 'hang' = () => 200) {
  const received: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    received.push({ path: req.url ?? '', body: JSON.parse(text) });
    const status = answer(received.length);
    if (status === 'hang') return;
    res.writeHead(status).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const rollback: Notification = {
  kind: 'rollback',
  service: 'api',
  title: 'rolled back api to api-00041',
  text: 'rule http_5xx: 12 > 5 in 5m',
  details: { candidate: 'api-00042', stable: 'api-00041' },
  at: '2026-11-28T10:00:00.000Z',
};

describe('NotificationDispatcher', () => {
  it('sends JSON to webhooks and {text} to chat targets, each only for its events', async () => {
    const hook = await receiver();
    const chat = await receiver();
    const results: string[] = [];
    const dispatcher = new NotificationDispatcher(
      [
        { name: 'hook', type: 'webhook', url: `${hook.url}/h`, events: ['rollback'], timeout: 2_000 },
        { name: 'chat', type: 'slack', url: `${chat.url}/c`, events: ['promotion'], timeout: 2_000 },
      ],
      { logger: silent, onResult: (target, result) => results.push(`${target}:${result}`) },
    );
    dispatcher.notify(rollback);
    dispatcher.notify({ ...rollback, kind: 'promotion', title: 'promoted api-00042' });
    await dispatcher.idle();
    expect(hook.received).toEqual([{ path: '/h', body: { source: 'runwarden', ...rollback } }]);
    expect(chat.received).toEqual([
      { path: '/c', body: { text: '*promoted api-00042*\nrule http_5xx: 12 > 5 in 5m' } },
    ]);
    expect(results.sort()).toEqual(['chat:sent', 'hook:sent']);
  });

  it('retries a target that answers 503, then succeeds', async () => {
    const flaky = await receiver((count) => (count < 3 ? 503 : 200));
    const results: string[] = [];
    const dispatcher = new NotificationDispatcher(
      [{ name: 'flaky', type: 'webhook', url: flaky.url, events: ['rollback'], timeout: 2_000 }],
      { logger: silent, backoffMs: 1, onResult: (_target, result) => results.push(result) },
    );
    dispatcher.notify(rollback);
    await dispatcher.idle();
    expect(flaky.received).toHaveLength(3);
    expect(results).toEqual(['sent']);
  });

  it('gives up at once on a 4xx, which retrying cannot fix', async () => {
    const refusing = await receiver(() => 404);
    const results: string[] = [];
    const dispatcher = new NotificationDispatcher(
      [{ name: 'gone', type: 'google_chat', url: refusing.url, events: ['rollback'], timeout: 2_000 }],
      { logger: silent, backoffMs: 1, onResult: (_target, result) => results.push(result) },
    );
    dispatcher.notify(rollback);
    await dispatcher.idle();
    expect(refusing.received).toHaveLength(1);
    expect(results).toEqual(['failed']);
  });

  it('returns at once while a target hangs, and bounds the hang by the timeout', async () => {
    const hanging = await receiver(() => 'hang');
    const results: string[] = [];
    const dispatcher = new NotificationDispatcher(
      [{ name: 'slow', type: 'webhook', url: hanging.url, events: ['rollback'], timeout: 100 }],
      { logger: silent, attempts: 2, backoffMs: 1, onResult: (_target, result) => results.push(result) },
    );
    dispatcher.notify(rollback);
    // notify() came back while the delivery is still pending on the hanging target.
    expect(results).toEqual([]);
    await dispatcher.idle();
    expect(hanging.received).toHaveLength(2);
    expect(results).toEqual(['failed']);
  });
});

describe('notifyOnEvents', () => {
  it('tells the backup_failed targets when a backup fails', async () => {
    const hook = await receiver();
    const events = new EventBus();
    const dispatcher = new NotificationDispatcher(
      [{ name: 'hook', type: 'webhook', url: hook.url, events: ['backup_failed'], timeout: 2_000 }],
      { logger: silent },
    );
    const unsubscribe = notifyOnEvents(events, dispatcher);
    events.emit('backup:failed', {
      reason: 'scheduled',
      trigger: 'schedule',
      code: 'RW_BACKUP_SOURCE_MISSING',
      error: 'main database /srv/app/db.sqlite3 is missing',
      durationMs: 12,
      snapshotRestarts: 0,
    });
    unsubscribe();
    events.emit('backup:failed', {
      reason: 'manual',
      trigger: 'cli',
      code: 'X',
      error: 'after unsubscribe',
      durationMs: 0,
      snapshotRestarts: 0,
    });
    await dispatcher.idle();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.body).toMatchObject({
      kind: 'backup_failed',
      title: 'backup failed (scheduled)',
      details: { code: 'RW_BACKUP_SOURCE_MISSING' },
    });
  });
});

describe('notifyOnEvents for the deploy watch', () => {
  const base = {
    service: 'shop',
    candidate: 'shop-00002-bad',
    stable: 'shop-00001-good',
    rule: 'http_5xx',
    reason: 'http_5xx: 12 > 5 in 5m',
    watchId: 1,
    at: Date.parse('2026-11-28T10:00:00Z'),
    dryRun: false,
  };

  it('names the restore point and whether the schema changed, only to the targets the service picked', async () => {
    const picked = await receiver();
    const other = await receiver();
    const events = new EventBus();
    const dispatcher = new NotificationDispatcher(
      [
        { name: 'picked', type: 'slack', url: picked.url, events: ['rollback'], timeout: 2_000 },
        { name: 'other', type: 'webhook', url: other.url, events: ['rollback'], timeout: 2_000 },
      ],
      { logger: silent },
    );
    const asked: unknown[] = [];
    notifyOnEvents(
      events,
      dispatcher,
      (service) => (service === 'shop' ? ['picked'] : undefined),
      (kind, event) => {
        asked.push([kind, event.service, event.at]);
        return 42;
      },
    );
    events.emit('rollback:completed', {
      ...base,
      trigger: 'watch',
      from: ['shop-00002-bad'],
      to: 'shop-00001-good',
      confirmed: true,
      probe: { ok: true, status: 200 },
      durationMs: 840,
      restorePoint: {
        source: 'watch_start',
        backup: '/var/backups/runwarden/backup_completo_20261128_095900.zip',
        backupId: 7,
        takenAt: Date.parse('2026-11-28T09:59:00Z'),
        fingerprint: null,
        note: null,
        schemaChanged: true,
        schemaDetail: 'django_migrations gained shop.0004_discounts',
      },
    });
    await dispatcher.idle();
    expect(other.received).toHaveLength(0);
    const text = (picked.received[0]?.body as { text?: string } | undefined)?.text ?? '';
    expect(text).toContain('*rolled back shop to shop-00001-good*');
    expect(text).toContain('traffic confirmed on shop-00001-good after 840 ms');
    expect(text).toContain(
      'restore point: /var/backups/runwarden/backup_completo_20261128_095900.zip (the schema CHANGED since',
    );
    // The command that prints the incident's report, by the history id of the rollback's entry.
    expect(text).toContain('report: runwarden report --rollback 42');
    expect(asked).toEqual([['rollback:completed', 'shop', base.at]]);
  });

  it('finds the rollback already in the history, even when the notifier subscribed before the recorder', () => {
    const store = Store.open(tempDir());
    const events = new EventBus();
    const found: Array<number | undefined> = [];
    events.on('rollback:completed', (event) =>
      found.push(store.history.idOf('rollback:completed', event.service, event.at)),
    );
    recordHistory(events, store.history);
    events.emit('rollback:completed', {
      ...base,
      trigger: 'watch',
      from: ['shop-00002-bad'],
      to: 'shop-00001-good',
      confirmed: true,
      probe: null,
      durationMs: 5,
      restorePoint: { ...NO_RESTORE_POINT, schemaChanged: null, schemaDetail: 'unknown' },
    });
    expect(found).toEqual([store.history.list({ limit: 1 })[0]?.id]);
    expect(found[0]).toBeGreaterThan(0);
    store.close();
  });

  it("names the watch's report when the rollback's entry cannot be found, and still notifies when the lookup throws", async () => {
    const hook = await receiver();
    const events = new EventBus();
    const dispatcher = new NotificationDispatcher(
      [{ name: 'hook', type: 'webhook', url: hook.url, events: ['rollback', 'failure'], timeout: 2_000 }],
      { logger: silent },
    );
    let lookups = 0;
    notifyOnEvents(events, dispatcher, undefined, () => {
      lookups += 1;
      if (lookups === 2) throw new Error('database disk image is malformed');
      return undefined;
    });
    const rollback = {
      ...base,
      trigger: 'watch' as const,
      from: ['shop-00002-bad'],
      to: 'shop-00001-good',
      restorePoint: { ...NO_RESTORE_POINT, schemaChanged: null, schemaDetail: 'unknown' },
    };
    events.emit('rollback:completed', { ...rollback, confirmed: true, probe: null, durationMs: 5 });
    events.emit('rollback:failed', { ...rollback, watchId: null, error: { code: 'RW_X', message: 'boom' } });
    await dispatcher.idle();
    const text = (kind: string) =>
      hook.received.map((item) => item.body as Notification).find((sent) => sent.kind === kind)?.text;
    expect(text('rollback')).toContain('report: runwarden report --watch 1');
    expect(text('failure')).toContain('RW_X: boom');
    expect(text('failure')).not.toContain('runwarden report');
  });

  it('marks dry-run promotions and reports failures to act', async () => {
    const hook = await receiver();
    const events = new EventBus();
    const dispatcher = new NotificationDispatcher(
      [{ name: 'hook', type: 'webhook', url: hook.url, events: ['promotion', 'failure'], timeout: 2_000 }],
      { logger: silent },
    );
    notifyOnEvents(events, dispatcher);
    events.emit('watch:promoted', { ...base, dryRun: true, trigger: 'watch', previous: 'shop-00001-good' });
    events.emit('watch:failure', {
      ...base,
      operation: 'poll',
      error: { code: 'RW_CLOUD_RUN_UNAVAILABLE', message: 'UNAVAILABLE' },
    });
    await dispatcher.idle();
    expect(hook.received.map((item) => (item.body as Notification).title)).toEqual([
      '[dry-run] would have: shop-00002-bad is now the stable revision of shop',
      'shop: poll failed',
    ]);
  });
});

describe('notifyOnEvents for the blue-green flow', () => {
  const base = {
    service: 'shop',
    candidate: 'shop-00002-new',
    stable: 'shop-00001-good',
    rule: null,
    watchId: 3,
    at: Date.UTC(2026, 0, 1),
    dryRun: false,
  };

  it('says an untagged no-traffic revision is not reachable for testing, and a failed candidate why', async () => {
    const hook = await receiver();
    const events = new EventBus();
    const dispatcher = new NotificationDispatcher(
      [{ name: 'hook', type: 'webhook', url: hook.url, events: ['alert', 'promotion'], timeout: 2_000 }],
      { logger: silent },
    );
    const unsubscribe = notifyOnEvents(events, dispatcher);
    events.emit('watch:candidate', {
      ...base,
      reason:
        'shop-00002-new takes no traffic and has no tag: not reachable for testing: deploy it with --tag',
      verdict: 'unreachable',
      detail: 'not reachable for testing: deploy it with --tag',
    });
    events.emit('watch:candidate', {
      ...base,
      reason:
        'shop-00002-new failed its tests at its tag URL: smoke check failed: /login: expected 200, got 500',
      verdict: 'failed',
      detail: 'smoke check failed: /login: expected 200, got 500',
    });
    events.emit('watch:step', { ...base, reason: 'step', step: 1, steps: 3, percent: 10 });
    await dispatcher.idle();
    unsubscribe();
    expect(hook.received.map((entry) => entry.body)).toEqual([
      expect.objectContaining({
        kind: 'alert',
        title: 'shop: shop-00002-new is not reachable for testing: deploy it with --tag',
      }),
      expect.objectContaining({
        kind: 'alert',
        title: 'shop: candidate shop-00002-new failed its tests at its tag URL',
        text: expect.stringContaining('/login: expected 200, got 500'),
      }),
      expect.objectContaining({
        kind: 'promotion',
        title: 'shop: shop-00002-new now takes 10 % of traffic (step 1 of 3)',
      }),
    ]);
  });
});
