import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { acquireBackupLock } from '../src/backup/lock.js';
import { ShuttingDownError } from '../src/daemon/work.js';
import { exitWithin, spawnProcess, waitForPoint } from './helpers/cli.js';
import { PROCESS_START } from './helpers/deadlines.js';
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

describe('stop signals of a command', () => {
  it('the first SIGINT aborts the work with RW_ABORTED and keeps the process; a second signal exits 1', async () => {
    const helper = pathToFileURL(path.join(import.meta.dirname, '../dist/cli/interrupt.js')).href;
    // Work that never ends by itself: only the second signal may end the process.
    const script = `
      import { abortOnStopSignals } from ${JSON.stringify(helper)};
      const { signal } = abortOnStopSignals('the test work');
      signal.addEventListener('abort', () => console.log('aborted', signal.reason.code, signal.reason.message));
      setInterval(() => {}, 60_000);
      console.log('ready');
    `;
    const run = spawnProcess(process.execPath, ['--input-type=module', '-e', script]);
    await waitForPoint(
      run,
      () => (run.output.stdout.includes('ready') ? true : undefined),
      'the helper to listen',
    );
    run.child.kill('SIGINT');
    const line = await waitForPoint(
      run,
      () => run.output.stdout.split('\n').find((entry) => entry.startsWith('aborted')),
      'the first signal to abort the work',
    );
    expect(line).toBe('aborted RW_ABORTED the test work interrupted by SIGINT');
    run.child.kill('SIGTERM');
    expect(await exitWithin(run, PROCESS_START, 'the second signal to end the process')).toEqual({
      code: 1,
      signal: null,
    });
  });
});
