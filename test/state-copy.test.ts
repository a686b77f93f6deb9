import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { REPLACED_STATE_FILE, STATE_COPY_OBJECT, StateCopier } from '../src/app/state-copy.js';
import { decodeStateCopy, encodeStateCopy } from '../src/core/state-copy.js';
import type { ReceivedAlert } from '../src/core/alert.js';
import type { Leadership } from '../src/lease/leadership.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { STORE_FILE } from '../src/store/store.js';
import { createLogger } from '../src/telemetry/logger.js';
import { stateCopyMetrics } from '../src/telemetry/metrics-state-copy.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { type Deadline, waitFor } from './helpers/wait.js';
import { type Harness, servedBy, useWatchHarness } from './helpers/watch-harness.js';

const BUCKET = 'cluster-bucket';
const DELAY_MS = 200;
/** A copy is due DELAY_MS after a change and looked for every DELAY_MS / 4; one write after it. */
const COPIED: Deadline = {
  ms: SLOWDOWN * (DELAY_MS + DELAY_MS / 4) + 10_000,
  basis: `state_copy_delay ${DELAY_MS} ms x SLOWDOWN, plus a 10 s bound on the write`,
};

/** A leadership the test holds: takeover runs the hooks first, as the lease does. */
function testLeadership(leader = true) {
  let held = leader;
  const hooks: Array<(signal: AbortSignal) => Promise<void>> = [];
  const leadership: Leadership = {
    scope: 'watch',
    mayAct: () => held,
    generation: () => undefined,
    beforeActing: (hook) => {
      hooks.push(hook);
      return () => hooks.splice(hooks.indexOf(hook), 1);
    },
    onChange: () => () => {},
  };
  return {
    leadership,
    async take() {
      for (const hook of hooks) await hook(AbortSignal.timeout(30_000));
      held = true;
    },
    lose() {
      held = false;
    },
  };
}

const harnesses = useWatchHarness('runwarden-state-copy-');
const tempDir = useTempDir('runwarden-state-copy-');
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function objectsOf(h: Harness): Promise<ObjectStore> {
  h.playground.storage.createBucket(BUCKET);
  return openGcsObjectStore({
    bucket: BUCKET,
    prefix: 'runwarden/cluster/',
    apiEndpoint: h.playground.storage.url,
    projectId: h.playground.storage.project,
    retry: { maxRetries: 1, maxDelayMs: 1_000, totalTimeoutMs: 10_000 },
  });
}

/** A copier over the harness's current store, its loop running until the test ends. */
function copierFor(h: Harness, objects: ObjectStore, leadership: Leadership, holder = 'host-a:1') {
  const metrics = stateCopyMetrics(new Registry());
  const copier = new StateCopier({
    store: h.store,
    objects,
    leadership,
    delayMs: DELAY_MS,
    holder,
    stateDir: h.stateDir,
    logger: createLogger({ level: process.env.TEST_LOG ?? 'silent', format: 'json' }),
    metrics,
  });
  const stop = new AbortController();
  const running = copier.run(stop.signal);
  stops.push(async () => {
    stop.abort();
    await running;
  });
  return { copier, metrics };
}

const signal = () => AbortSignal.timeout(30_000);

/** The copy in the bucket, decoded: its header and, opened from a file, what a query finds in it. */
async function bucketCopy<T>(objects: ObjectStore, query: (db: Database.Database) => T) {
  const { bytes, generation } = await objects.read(STATE_COPY_OBJECT, {}, signal());
  const { header, image } = decodeStateCopy(bytes, STATE_COPY_OBJECT);
  const file = path.join(tempDir(), 'copy.db');
  const db = new Database(image);
  try {
    return { generation, header, found: query(db), file };
  } finally {
    db.close();
  }
}

/** What a killed watcher on a host that lost its disk leaves: nothing. */
async function loseDisk(h: Harness): Promise<void> {
  await h.closeRuntime();
  for (const suffix of ['', '-wal', '-shm'])
    rmSync(path.join(h.stateDir, `${STORE_FILE}${suffix}`), { force: true });
}

/** Waits until the copier has copied everything the store holds now. */
async function copied(copier: StateCopier, what: string): Promise<void> {
  await waitFor(() => (copier.pending() ? undefined : true), what, COPIED, { every: 25 });
}

describe('the state copy in the cluster bucket', () => {
  it('copies the store after a change, within the delay, with its header; nothing before anything is stored', async () => {
    const h = await harnesses.start();
    const objects = await objectsOf(h);
    const { leadership } = testLeadership();
    const { copier, metrics } = copierFor(h, objects, leadership);
    expect(await copier.restoreIfNewer(signal())).toEqual({ kind: 'none', why: 'no_copy' });
    // An empty store has nothing to share.
    expect(copier.pending()).toBe(false);
    expect(await objects.stat(STATE_COPY_OBJECT, signal())).toBeUndefined();

    h.store.services.setFrozen('shop', true, 'incident 7', Date.now());
    await copied(copier, 'the freeze to be copied');
    const first = await bucketCopy(objects, (db) =>
      db.prepare("SELECT frozen, frozen_reason FROM watch_services WHERE service = 'shop'").get(),
    );
    expect(first.found).toEqual({ frozen: 1, frozen_reason: 'incident 7' });
    expect(first.header).toMatchObject({ schemaVersion: h.store.schemaVersion, holder: 'host-a:1' });
    expect(copier.status()).toMatchObject({ generation: first.generation, stopped: undefined });
    expect(h.store.copyMark).toMatchObject({ generation: first.generation, holder: 'host-a:1' });
    const stat = await objects.stat(STATE_COPY_OBJECT, signal());
    expect(stat?.metadata).toMatchObject({
      schema_version: String(h.store.schemaVersion),
      holder: 'host-a:1',
    });

    // A poll that saw nothing new writes its bookkeeping only: nothing is sent.
    const snapshot = { latestReady: 'shop-00001', serving: { 'shop-00001': 100 } };
    h.store.services.saveSnapshot('shop', snapshot, Date.now());
    await copied(copier, 'the first poll to be copied');
    const polled = copier.status().generation;
    h.store.services.saveSnapshot('shop', snapshot, Date.now() + 1);
    expect(copier.pending()).toBe(true);
    await copied(copier, 'the second poll to be looked at');
    expect(copier.status().generation).toBe(polled);

    // A change by another process (the CLI's unfreeze) is seen too, and copied over the last generation.
    const cli = new Database(h.store.file);
    cli.prepare("UPDATE watch_services SET frozen = 0 WHERE service = 'shop'").run();
    cli.close();
    await copied(copier, 'the CLI change to be copied');
    const second = await bucketCopy(objects, (db) =>
      db.prepare("SELECT frozen FROM watch_services WHERE service = 'shop'").pluck().get(),
    );
    expect(second.found).toBe(0);
    expect(second.generation).toBeGreaterThan(first.generation);
    // The freeze, the first poll's snapshot and the unfreeze; the repeated poll sent nothing.
    expect(await metrics.copies.get()).toMatchObject({ values: [{ value: 3 }] });
  });

  it('a watcher restarted with an empty disk during a bad deploy restores its state from the bucket and rolls back', async () => {
    const { h, v1 } = await harnesses.ready();
    const objects = await objectsOf(h);
    const { leadership } = testLeadership();
    const { copier } = copierFor(h, objects, leadership);
    await copier.restoreIfNewer(signal());
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    await h.runUntilEvent('watch:started', (event) => event.candidate === v2);
    await copied(copier, 'the open watch to be copied');
    expect(servedBy(h)).toEqual({ [v2]: 100 });

    await loseDisk(h);
    await h.reopen();
    expect(h.store.hasSharedState()).toBe(false);
    const again = copierFor(h, objects, leadership, 'host-b:2').copier;
    expect(await again.restoreIfNewer(signal())).toEqual({ kind: 'restore', why: 'empty' });
    expect(h.store.memory('shop')).toMatchObject({ stable: v1, watch: { candidate: v2, stable: v1 } });
    const completed = await h.runUntilEvent('rollback:completed', (event) => event.candidate === v2);
    expect(completed).toMatchObject({ service: 'shop', candidate: v2 });
    expect(servedBy(h)).toEqual({ [v1]: 100 });
    // The new watcher copies on over the generation it restored.
    await copied(again, 'the rollback to be copied');
    const after = await bucketCopy(objects, (db) =>
      db.prepare('SELECT status FROM watches WHERE candidate = ?').pluck().get(v2),
    );
    expect(after.found).toBe('rolled_back');
    expect(after.header.holder).toBe('host-b:2');
  });

  it('with no copy in the bucket, a revision serving at first sight is not adopted until it passes', async () => {
    const h = await harnesses.start();
    const objects = await objectsOf(h);
    const { copier } = copierFor(h, objects, testLeadership().leadership);
    expect(await copier.restoreIfNewer(signal())).toEqual({ kind: 'none', why: 'no_copy' });
    const [v1] = Object.keys(servedBy(h));
    h.playground.setBehaviour(v1!, 'failing-health');
    const started = await h.runUntilEvent('watch:started', (event) => event.candidate === v1);
    expect(started).toMatchObject({ candidate: v1, stable: null });
    expect(started.reason).toMatch(/first sight .* no stored history/);
    // It trips: nothing is safe to roll back to, so a person is told instead.
    const refused = await h.runUntilEvent('rollback:refused');
    expect(refused).toMatchObject({ service: 'shop', reason: expect.stringMatching(/no last known good/) });
    expect(h.store.services.get('shop')?.stableRevision ?? null).toBeNull();
    expect(h.store.knownGood.list('shop')).toEqual([]);
    expect(servedBy(h)).toEqual({ [v1!]: 100 });
    // At its deadline the watch fails and the revision is marked bad, never known good.
    const ended = await h.runUntilEvent('watch:ended', (event) => event.candidate === v1);
    expect(ended).toMatchObject({ status: 'failed' });
    expect(h.store.revisions.bad('shop').has(v1!)).toBe(true);
    expect(h.seen.some((entry) => entry.name === 'watch:promoted')).toBe(false);
  });

  it('a frozen service stays frozen after a restore, and a repeated alert acted on before does not act again', async () => {
    const { h, v1 } = await harnesses.ready();
    const objects = await objectsOf(h);
    const { leadership } = testLeadership();
    const { copier } = copierFor(h, objects, leadership);
    await copier.restoreIfNewer(signal());
    const alert: ReceivedAlert = {
      source: 'alertmanager',
      dedupeKey: 'alertmanager:abc123:2026-12-03T22:00:00Z',
      fingerprint: 'abc123',
      status: 'firing',
      name: 'HighErrorRate',
      labels: { service: 'shop' },
      startsAt: Date.parse('2026-12-03T22:00:00Z'),
      summary: 'too many 5xx',
    };
    expect(h.store.alerts.claim(alert, 'shop', new Date())).toBe(true);
    h.store.alerts.settle(alert.dedupeKey, 'rolled_back', v1);
    h.store.services.setFrozen('shop', true, 'incident 9', Date.now());
    await copied(copier, 'the freeze and the alert to be copied');

    await loseDisk(h);
    await h.reopen();
    await copierFor(h, objects, leadership, 'host-b:2').copier.restoreIfNewer(signal());
    expect(h.store.memory('shop')).toMatchObject({ frozen: true, stable: v1 });
    // The same delivery again: claimed before, so it must not act again.
    expect(h.store.alerts.claim(alert, 'shop', new Date())).toBe(false);
    // And the frozen service holds a bad deploy instead of rolling it back.
    const v2 = await h.playground.deploy('shop', { behaviour: 'failing-health' });
    const held = await h.runUntilEvent('watch:held', (event) => event.candidate === v2);
    expect(held.reason).toMatch(/frozen/);
    expect(servedBy(h)).toEqual({ [v2]: 100 });
  });

  it('stops copying when another runwarden wrote the copy, and never overwrites it', async () => {
    const h = await harnesses.start();
    const objects = await objectsOf(h);
    const { copier, metrics } = copierFor(h, objects, testLeadership().leadership);
    await copier.restoreIfNewer(signal());
    h.store.services.setFrozen('shop', true, 'mine', Date.now());
    await copied(copier, 'the first copy');
    const mine = copier.status().generation!;
    const theirs = encodeStateCopy(
      { schemaVersion: h.store.schemaVersion, writtenAt: Date.now(), holder: 'host-z:9', runwarden: 'x' },
      Buffer.from('their image'),
    );
    const written = await objects.write(STATE_COPY_OBJECT, theirs, { ifGenerationMatch: mine }, signal());
    h.store.services.setFrozen('shop', false, null, Date.now());
    await waitFor(() => copier.status().stopped, 'copying to stop', COPIED);
    expect(copier.status().stopped).toMatch(/another runwarden wrote .* after generation/);
    const failures = (await metrics.failures.get()).values.find(
      (entry) => entry.labels.reason === 'RW_STORAGE_PRECONDITION',
    );
    expect(failures?.value).toBe(1);
    // A later change is not copied either: their copy stays as they wrote it.
    h.store.services.setFrozen('shop', true, 'again', Date.now());
    expect(await copier.step(signal())).toBe(false);
    const now = await objects.read(STATE_COPY_OBJECT, {}, signal());
    expect(now.generation).toBe(written.generation);
    expect(now.bytes.equals(theirs)).toBe(true);
  });

  it('refuses a copy of a newer store schema with a clear error, leaving the local store untouched', async () => {
    const h = await harnesses.start();
    const objects = await objectsOf(h);
    h.store.services.setFrozen('shop', true, 'local', 1_000);
    const known = h.store.schemaVersion;
    const newer = encodeStateCopy(
      { schemaVersion: known + 1, writtenAt: Date.now(), holder: 'host-new:3', runwarden: '9.0.0' },
      h.store.snapshot(),
    );
    const written = await objects.write(STATE_COPY_OBJECT, newer, { ifGenerationMatch: 0 }, signal());
    const { copier } = copierFor(h, objects, testLeadership().leadership);
    await expect(copier.restoreIfNewer(signal())).rejects.toMatchObject({
      code: 'RW_STATE_COPY_TOO_NEW',
      message: expect.stringMatching(
        new RegExp(`schema version ${known + 1} .*knows up to ${known}\\b.*left untouched`),
      ),
    });
    expect(h.store.memory('shop')).toMatchObject({ frozen: true });
    expect(h.store.copyMark).toBeUndefined();
    // Nor is it overwritten by this older runwarden.
    h.store.services.setFrozen('shop', false, null, 2_000);
    expect(await copier.copyNow(signal())).toBe(false);
    expect((await objects.stat(STATE_COPY_OBJECT, signal()))?.generation).toBe(written.generation);
  });

  it('on takeover the new leader restores what the old one copied, keeping its own rows aside', async () => {
    const h = await harnesses.start();
    const objects = await objectsOf(h);
    const a = testLeadership(true);
    const { copier } = copierFor(h, objects, a.leadership);
    await copier.restoreIfNewer(signal());
    h.store.services.setFrozen('shop', true, 'by the old leader', Date.now());
    await copied(copier, 'the old leader to copy');
    a.lose();
    // The standby's own store (a stale freeze reason) is replaced before it acts.
    await loseDisk(h);
    await h.reopen();
    h.store.services.setFrozen('shop', false, null, 1);
    const b = testLeadership(false);
    const standby = copierFor(h, objects, b.leadership, 'host-b:2').copier;
    b.leadership.beforeActing((hookSignal) => standby.restoreIfNewer(hookSignal).then(() => {}));
    expect(await standby.step(signal())).toBe(false);
    await b.take();
    expect(h.store.memory('shop')).toMatchObject({ frozen: true });
    expect(h.store.services.get('shop')?.frozenReason).toBe('by the old leader');
    const aside = new Database(path.join(h.stateDir, REPLACED_STATE_FILE), { readonly: true });
    expect(aside.prepare("SELECT frozen FROM watch_services WHERE service = 'shop'").pluck().get()).toBe(0);
    aside.close();
    h.store.services.setFrozen('shop', true, 'by the new leader', Date.now());
    await copied(standby, 'the new leader to copy');
    expect((await bucketCopy(objects, () => true)).header.holder).toBe('host-b:2');
  });
});
