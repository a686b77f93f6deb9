import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/event-bus.js';
import { backupTriggerAdapter } from '../src/app/backup-trigger.js';
import { createBackupService } from '../src/app/backup-service.js';
import { acquireBackupLock } from '../src/backup/lock.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, makeDataDir, silentLogger } from './helpers/backup.js';
import { BEARER, post, sample, useAlertsHarness } from './helpers/alerts-harness.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const start = useAlertsHarness();

/** The webhook server with /v1/backups over the real backup use-case, data in `dir`. */
async function startWithBackups(dir: string, lockWait = '5s') {
  makeDataDir(dir);
  const config = backupConfigFor(dir, { lock_wait: lockWait });
  const store = Store.open(path.join(dir, 'backup-state'));
  const backups = backupTriggerAdapter(
    createBackupService({ config, store: () => store, events: new EventBus(), logger: silentLogger }),
  );
  const harness = await start(path.join(dir, 'state'), { backups });
  return { harness, config, catalog: store.backups, close: () => store.close() };
}

describe('POST /v1/backups', () => {
  it('takes a verified backup with the given reason and answers 201 with it, keys in snake_case', async () => {
    const dir = tempDir();
    const { harness, catalog, close } = await startWithBackups(dir);
    try {
      const response = await post(harness.base, '/v1/backups', { reason: 'pre-deploy' }, BEARER);
      expect(response.status).toBe(201);
      const backup = response.body.backup as { file: string; size: number; sha256: string };
      // The keys CI scripts read, in snake_case like every JSON runwarden writes.
      expect(Object.keys(backup).sort()).toEqual(['file', 'finished_at', 'sha256', 'size', 'started_at']);
      expect(existsSync(backup.file)).toBe(true);
      expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
      const [record] = catalog.list();
      expect(record).toMatchObject({
        file: backup.file,
        reason: 'pre-deploy',
        trigger: 'http',
        status: 'verified',
      });
    } finally {
      close();
    }
  });

  it('refuses without credentials or with a bad body, and takes no backup', async () => {
    const dir = tempDir();
    const { harness, catalog, close } = await startWithBackups(dir);
    try {
      expect((await post(harness.base, '/v1/backups', { reason: 'pre-deploy' })).status).toBe(401);
      const cases: Array<[unknown, string]> = [
        [{}, 'reason: required (expected string)'],
        [{ reason: '' }, 'reason: expected a reason like "pre-deploy"'],
        [{ reason: 'x'.repeat(201) }, 'reason: expected a reason of at most 200 characters'],
        [{ reason: 'rm -rf /; `x`' }, 'reason: expected letters, digits, spaces and . _ : / @ # + - only'],
        [{ reason: 'ok', extra: 1 }, 'extra: unknown key'],
      ];
      for (const [body, problem] of cases) {
        const response = await post(harness.base, '/v1/backups', body, BEARER);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.problems).toEqual([problem]);
      }
      expect(catalog.list()).toEqual([]);
      const text = await harness.metricsText();
      expect(
        sample(text, 'runwarden_webhook_refusals_total', { route: 'backups', reason: 'unauthorized' }),
      ).toBe(1);
      expect(
        sample(text, 'runwarden_webhook_refusals_total', { route: 'backups', reason: 'bad_request' }),
      ).toBe(5);
    } finally {
      close();
    }
  });

  it('answers 409 while another backup holds the lock', async () => {
    const dir = tempDir();
    const { harness, config, catalog, close } = await startWithBackups(dir, '0s');
    const lock = await acquireBackupLock(config.dir, { waitMs: 0 });
    try {
      const response = await post(harness.base, '/v1/backups', { reason: 'pre-deploy' }, BEARER);
      expect(response.status).toBe(409);
      expect(response.body.code).toBe('RW_LOCK_HELD');
      expect(catalog.list()).toEqual([]);
    } finally {
      lock.release();
      close();
    }
  });
});
