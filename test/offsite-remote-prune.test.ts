import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOffsiteService, type OffsiteService, withOffsite } from '../src/app/offsite-service.js';
import { UNCONFIRMED_REASON } from '../src/core/offsite-retention.js';
import { EventBus } from '../src/events/event-bus.js';
import type { OffsitePrunedEvent } from '../src/events/offsite-events.js';
import { offsiteObjectUrl, offsiteStoreOptions } from '../src/offsite/offsite-options.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { Store } from '../src/store/store.js';
import { backupConfigFor, silentLogger } from './helpers/backup.js';
import { WORK_BACKSTOP } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

const BUCKET = 'remote-prune';
const signal = () => new AbortController().signal;
/** "Now" for the plans: after every archive name used here. */
const NOW = Date.parse('2026-12-01T00:00:00Z');

let playground: Playground;
let prefixes = 0;

beforeAll(async () => {
  playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [BUCKET] });
});

afterAll(async () => {
  await playground?.stop();
});

const tempDir = useTempDir('runwarden-remote-prune-');

/**
 * An off-site service as the app builds it (real client, real SQLite catalog) on a prefix of its
 * own, and a second client on the same prefix playing "someone else" and seeding the bucket.
 */
async function parts(retention: Record<string, unknown>) {
  const dir = tempDir();
  const prefix = `app${++prefixes}/`;
  const config = withOffsite(
    backupConfigFor(dir, {
      offsite: { bucket: BUCKET, prefix, api_endpoint: playground.storage.url, retention },
    }),
  );
  if (!config) throw new Error('offsite config expected');
  const store = Store.open(path.join(dir, 'state'));
  const events = new EventBus();
  const pruned: OffsitePrunedEvent[] = [];
  events.on('offsite:pruned', (event) => {
    pruned.push(event);
  });
  const offsite: OffsiteService = createOffsiteService({
    config,
    store: () => store,
    events,
    logger: silentLogger,
    clock: () => NOW,
  });
  const other: ObjectStore = await openGcsObjectStore({
    ...offsiteStoreOptions(config.offsite),
    projectId: playground.storage.project,
  });

  /** Uploads `name` (as someone else would) and, when `confirm`, catalogs it as a confirmed copy. */
  async function seed(name: string, confirm: boolean): Promise<number> {
    const object = await other.write(name, Buffer.from(`bytes of ${name}`), {}, signal());
    if (confirm) {
      const file = path.join(config!.dir, name);
      const at = new Date(NOW - 1_000);
      store.backups.record({
        file,
        size: object.size,
        sha256: 'a'.repeat(64),
        reason: 'scheduled',
        trigger: 'schedule',
        startedAt: at,
        finishedAt: at,
        entries: 1,
        verifiedAt: at,
      });
      store.backups.confirmOffsite(file, {
        objectName: offsiteObjectUrl(config!.offsite, name),
        generation: object.generation,
        confirmedAt: at,
      });
    }
    return object.generation;
  }

  /** Object names and generations left in the bucket under the prefix, in name order. */
  const inBucket = () =>
    playground.storage
      .objects(BUCKET)
      .filter((object) => object.name.startsWith(prefix))
      .map((object) => object.name.slice(prefix.length))
      .sort();
  const generationOf = (name: string) =>
    playground.storage.objects(BUCKET).find((object) => object.name === prefix + name)?.generation;
  return { config, prefix, store, offsite, other, seed, inBucket, generationOf, pruned };
}

const A = (stamp: string) => `backup_completo_${stamp}.zip`;

describe('remote retention against the storage emulator with the real client', () => {
  it('judges encrypted copies (<archive>.age) by their archive name, like plain ones', async () => {
    const { offsite, seed, inBucket } = await parts({ keep_within: '0s', keep_last: 1 });
    await seed(`${A('20261125_030000')}.age`, true);
    await seed(A('20261126_030000'), true); // copied before encryption was turned on
    await seed(`${A('20261127_030000')}.age`, true);

    const outcome = await offsite.prune({ dryRun: false, signal: signal() });

    expect(outcome.ignored).toBe(0);
    expect(outcome.deleted.sort()).toEqual([`${A('20261125_030000')}.age`, A('20261126_030000')]);
    expect(inBucket()).toEqual([`${A('20261127_030000')}.age`]);
  });

  it('keeps and deletes by the policy, judging each copy by the time in its name', async () => {
    const { offsite, seed, inBucket, pruned, store } = await parts({ keep_within: '0s', keep_last: 2 });
    // Uploaded newest first: upload times say the opposite of the names.
    for (const stamp of ['20261128_030000', '20261127_030000', '20261126_030000', '20261125_030000'])
      await seed(A(stamp), true);
    await seed('backup_completo_latest.zip', false); // under the archive prefix, not an archive name

    const outcome = await offsite.prune({ dryRun: false, signal: signal() });

    expect(
      outcome.decisions.map(({ name, keep, reasons, deleted }) => ({ name, keep, reasons, deleted })),
    ).toEqual([
      { name: A('20261128_030000'), keep: true, reasons: ['last 2', 'newest confirmed'], deleted: false },
      { name: A('20261127_030000'), keep: true, reasons: ['last 2'], deleted: false },
      { name: A('20261126_030000'), keep: false, reasons: [], deleted: true },
      { name: A('20261125_030000'), keep: false, reasons: [], deleted: true },
    ]);
    expect(outcome.decisions[0]?.time).toBe('2026-11-28T03:00:00.000Z');
    expect(outcome).toMatchObject({ retained: 2, ignored: 1, emptyPolicy: false });
    expect(inBucket()).toEqual([A('20261127_030000'), A('20261128_030000'), 'backup_completo_latest.zip']);
    expect(pruned).toEqual([
      { retained: 2, deleted: [A('20261126_030000'), A('20261125_030000')], dryRun: false },
    ]);
    // The catalog forgets the copies it deleted.
    expect(store.offsiteCopies.list().map((copy) => path.basename(copy.objectName))).toEqual([
      A('20261127_030000'),
      A('20261128_030000'),
    ]);
    store.close();
  });

  it('floors: unconfirmed and replaced objects neither count nor go; the newest confirmed copy stays', async () => {
    const { offsite, seed, other, inBucket, generationOf, store } = await parts({
      keep_within: '0s',
      keep_last: 1,
    });
    await seed(A('20261128_030000'), false); // uploaded by someone else: not in the catalog
    const replaced = A('20261127_030000');
    const cataloged = await seed(replaced, true);
    const replacement = await other.write(replaced, Buffer.from('other bytes'), {}, signal());
    expect(replacement.generation).not.toBe(cataloged);
    await seed(A('20261126_030000'), true);
    await seed(A('20261125_030000'), true);

    const outcome = await offsite.prune({ dryRun: false, signal: signal() });

    expect(
      outcome.decisions.map(({ name, confirmed, keep, reasons }) => ({ name, confirmed, keep, reasons })),
    ).toEqual([
      { name: A('20261128_030000'), confirmed: false, keep: true, reasons: [UNCONFIRMED_REASON] },
      { name: replaced, confirmed: false, keep: true, reasons: [UNCONFIRMED_REASON] },
      // The newest two are unconfirmed, so `last 1` falls on this one.
      { name: A('20261126_030000'), confirmed: true, keep: true, reasons: ['last 1', 'newest confirmed'] },
      { name: A('20261125_030000'), confirmed: true, keep: false, reasons: [] },
    ]);
    expect(inBucket()).toEqual([A('20261126_030000'), replaced, A('20261128_030000')]);
    expect(generationOf(replaced)).toBe(replacement.generation);
    store.close();
  });

  it('a copy changed between list and delete gets a 412 and survives; the others go on', async () => {
    const { offsite, seed, other, prefix, inBucket, generationOf, store } = await parts({
      keep_within: '0s',
      keep_last: 1,
    });
    for (const stamp of ['20261128_030000', '20261127_030000', '20261126_030000']) await seed(A(stamp), true);
    const raced = A('20261127_030000');
    // Its delete waits in the emulator; the fault is taken as the request arrives.
    playground.storage.injectFault({
      operation: 'objects.delete',
      bucket: BUCKET,
      object: prefix + raced,
      delayMs: 3_000,
    });
    const running = offsite.prune({ dryRun: false, signal: signal() });
    await waitFor(
      () => (playground.storage.pendingFaults().faults.length === 0 ? true : undefined),
      'the delete request to reach the emulator',
      WORK_BACKSTOP,
    );
    const rewritten = await other.write(raced, Buffer.from('rewritten meanwhile'), {}, signal());
    const outcome = await running;

    const decision = outcome.decisions.find((each) => each.name === raced);
    expect(decision).toMatchObject({ keep: false, deleted: false });
    expect(decision?.error).toMatch(/changed since it was listed/);
    expect(outcome.deleted).toEqual([A('20261126_030000')]);
    expect(outcome.retained).toBe(2);
    expect(inBucket()).toEqual([raced, A('20261128_030000')]);
    expect(generationOf(raced)).toBe(rewritten.generation);
    store.close();
  });

  it('a dry run plans and deletes nothing', async () => {
    const { offsite, seed, inBucket, pruned, store } = await parts({ keep_within: '0s', keep_last: 1 });
    for (const stamp of ['20261128_030000', '20261127_030000']) await seed(A(stamp), true);

    const outcome = await offsite.prune({ dryRun: true, signal: signal() });

    expect(outcome.decisions.map(({ keep, deleted }) => ({ keep, deleted }))).toEqual([
      { keep: true, deleted: false },
      { keep: false, deleted: false },
    ]);
    expect(outcome).toMatchObject({ dryRun: true, retained: 2, deleted: [] });
    expect(inBucket()).toEqual([A('20261127_030000'), A('20261128_030000')]);
    expect(pruned).toEqual([{ retained: 2, deleted: [], dryRun: true }]);
    store.close();
  });

  it('an empty policy (every rule off) deletes nothing: remote deletion turned off', async () => {
    const { offsite, seed, inBucket, store } = await parts({ keep_within: '0s' });
    for (const stamp of ['20261128_030000', '20261127_030000']) await seed(A(stamp), true);
    const outcome = await offsite.prune({ dryRun: false, signal: signal() });
    expect(outcome).toMatchObject({ emptyPolicy: true, retained: 2, deleted: [] });
    expect(outcome.decisions.every((decision) => decision.reasons.includes('policy is empty'))).toBe(true);
    expect(inBucket()).toHaveLength(2);
    store.close();
  });
});
