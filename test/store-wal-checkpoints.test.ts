import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { scheduleIdleCheckpoints } from '../src/app/idle-checkpoints.js';
import { checkpointDue } from '../src/core/wal-checkpoint.js';
import type { ReceivedAlert } from '../src/core/alert.js';
import { type CheckpointResult, Store } from '../src/store/store.js';
import { createLogger } from '../src/telemetry/logger.js';
import { PROCESS_START, WORK_BACKSTOP } from './helpers/deadlines.js';
import { useCleanups, useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

// The daemon's store checkpoints its WAL only when told (never inside a commit such as an alert's
// claim on its way to UpdateService), and the daemon tells it from a timer while nothing acts.

const tempDir = useTempDir('runwarden-wal-');
const cleanups = useCleanups();

const silent = createLogger({
  format: 'json',
  destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
});

function alert(index: number, labelBytes = 0): ReceivedAlert {
  return {
    source: 'alertmanager',
    name: 'ShopErrors',
    fingerprint: `f${index}`,
    dedupeKey: `alertmanager:f${index}`,
    status: 'firing',
    labels: { service: 'shop', runwarden_action: 'rollback', padding: 'x'.repeat(labelBytes) },
    startsAt: 0,
    summary: '',
  };
}

/** Enough claims (each a 16 KiB row) to take the WAL well past SQLite's 1,000-page autocheckpoint. */
function fillWal(store: Store): void {
  for (let index = 0; index < 400; index += 1)
    store.alerts.claim(alert(index, 16_384), 'shop', new Date(Date.UTC(2026, 0, 1)));
}

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const walPages = (file: string) => Math.floor(statSync(`${file}-wal`).size / 4096);

function openStore(): Store {
  const store = Store.open(tempDir());
  cleanups.push(async () => store.close());
  return store;
}

describe('WAL checkpoints of the state store', () => {
  it('checkpoints inside commits by default (what the daemon turns off)', () => {
    const store = openStore();
    const before = digest(store.file);
    fillWal(store);
    expect(digest(store.file)).not.toBe(before);
  });

  it('after deferCheckpoints, no commit checkpoints, not even a claim past 1,000 WAL pages; checkpoint() then copies it all', () => {
    const store = openStore();
    store.deferCheckpoints();
    const before = digest(store.file);
    fillWal(store);
    expect(walPages(store.file)).toBeGreaterThan(1_000);
    expect(store.alerts.claim(alert(10_000), 'shop', new Date(Date.UTC(2026, 0, 1)))).toBe(true);
    expect(digest(store.file)).toBe(before);
    const result = store.checkpoint();
    expect(result.walPages).toBeGreaterThan(1_000);
    expect(result.checkpointedPages).toBe(result.walPages);
    expect(digest(store.file)).not.toBe(before);
    // Nothing new: nothing copied.
    expect(store.checkpoint().checkpointedPages).toBe(result.walPages);
  });

  it('a claim committed with checkpoints deferred survives the process being killed, and refuses the repeat', async () => {
    const dir = tempDir();
    const storeModule = new URL('../dist/store/store.js', import.meta.url).href;
    // The daemon's way: checkpoints deferred, a claim, settled after the rollback; then SIGKILL,
    // so nothing is checkpointed or closed.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { Store } = await import(${JSON.stringify(storeModule)});
         const store = Store.open(${JSON.stringify(dir)});
         store.deferCheckpoints();
         const alert = ${JSON.stringify(alert(1))};
         store.alerts.claim(alert, 'shop', new Date(Date.UTC(2026, 0, 1)));
         store.alerts.settle(alert.dedupeKey, 'rolled_back', 'shop-00001-abc');
         process.stdout.write('settled\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    await waitFor(
      () => (output.includes('settled') ? true : undefined),
      'the claim to be settled',
      PROCESS_START,
    );
    child.kill('SIGKILL');
    await exited;
    const store = Store.open(dir);
    cleanups.push(async () => store.close());
    expect(store.alerts.releasePending()).toBe(0);
    expect(store.alerts.claim(alert(1), 'shop', new Date(Date.UTC(2026, 0, 1, 0, 1)))).toBe(false);
    expect(store.alerts.get(alert(1).dedupeKey)).toMatchObject({
      outcome: 'rolled_back',
      toRevision: 'shop-00001-abc',
    });
  });
});

describe('checkpointDue', () => {
  const timing = { periodMs: 30_000, maxDeferMs: 10_000 };

  it('is not due before the period, busy or not', () => {
    expect(checkpointDue(timing, 29_999, 0, false)).toBe(false);
    expect(checkpointDue(timing, 29_999, 0, true)).toBe(false);
  });

  it('is due after the period when idle, and waits while busy up to maxDeferMs past it', () => {
    expect(checkpointDue(timing, 30_000, 0, false)).toBe(true);
    expect(checkpointDue(timing, 30_000, 0, true)).toBe(false);
    expect(checkpointDue(timing, 39_999, 0, true)).toBe(false);
    expect(checkpointDue(timing, 40_000, 0, true)).toBe(true);
  });
});

describe('scheduleIdleCheckpoints', () => {
  it('never checkpoints while busy within the deferral, then does once idle', async () => {
    const store = openStore();
    let clock = 0;
    let busy = true;
    const seen: Array<{ busy: boolean; result: CheckpointResult }> = [];
    const stop = scheduleIdleCheckpoints({
      store,
      busy: () => busy,
      logger: silent,
      timing: { periodMs: 1_000, maxDeferMs: 1_000_000 },
      lookEveryMs: 5,
      now: () => clock,
      onCheckpoint: (result) => seen.push({ busy, result }),
    });
    cleanups.push(async () => stop());
    fillWal(store);
    clock = 5_000;
    // The timer looks many times while busy: no checkpoint.
    const looks = 20;
    for (let look = 0; look < looks; look += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([]);
    busy = false;
    await waitFor(() => (seen.length > 0 ? true : undefined), 'a checkpoint once idle', WORK_BACKSTOP);
    expect(seen[0]?.busy).toBe(false);
    expect(seen[0]?.result.checkpointedPages).toBeGreaterThan(1_000);
    // Deferred: the claims' commits did not checkpoint on their own.
    expect(seen[0]?.result.walPages).toBeGreaterThan(1_000);
  });

  it('checkpoints a busy daemon anyway once maxDeferMs past due, so the WAL stays bounded', async () => {
    const store = openStore();
    let clock = 0;
    const seen: CheckpointResult[] = [];
    const stop = scheduleIdleCheckpoints({
      store,
      busy: () => true,
      logger: silent,
      timing: { periodMs: 1_000, maxDeferMs: 2_000 },
      lookEveryMs: 5,
      now: () => clock,
      onCheckpoint: (result) => seen.push(result),
    });
    cleanups.push(async () => stop());
    fillWal(store);
    clock = 2_999;
    for (let look = 0; look < 20; look += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([]);
    clock = 3_000;
    await waitFor(() => (seen.length > 0 ? true : undefined), 'a forced checkpoint', WORK_BACKSTOP);
    expect(seen[0]?.checkpointedPages).toBeGreaterThan(1_000);
  });
});
