import { describe, expect, it } from 'vitest';
import { acquireBackupLock } from '../src/backup/lock.js';
import { ShuttingDownError } from '../src/daemon/work.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-helpers-');

describe('waiting for the backup lock', () => {
  it("rejects with the signal's own reason when aborted while it waits, as its contract says", async () => {
    const dir = tempDir();
    const held = await acquireBackupLock(dir, { waitMs: 0 });
    try {
      const controller = new AbortController();
      const reason = new ShuttingDownError('backup');
      const waiting = acquireBackupLock(dir, {
        waitMs: 60_000,
        signal: controller.signal,
        onWait: () => controller.abort(reason),
      });
      await expect(waiting).rejects.toBe(reason);
    } finally {
      held.release();
    }
  });
});
