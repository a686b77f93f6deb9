import { performance } from 'node:perf_hooks';
import { beforeEach, describe, expect, it } from 'vitest';
import { GcsLease } from '../src/lease/gcs-lease.js';
import { readLeases } from '../src/lease/lease-status.js';
import { type StorageEmulator, startStorageEmulator } from '../src/playground/storage-emulator.js';
import { openGcsObjectStore } from '../src/storage/gcs-object-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';
import { createLogger } from '../src/telemetry/logger.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { useCleanups } from './helpers/temp.js';
import { type Deadline, waitFor } from './helpers/wait.js';

const BUCKET = 'cluster-bucket';
const TIMING = { ttlMs: 1_500, marginMs: 300 };
/** A take needs at most a TTL of waiting plus a read; the machine may run SLOWDOWN times slower. */
const TAKEOVER: Deadline = { ms: (TIMING.ttlMs * 2 + 500) * SLOWDOWN, basis: '2 TTL + a read' };
const logger = createLogger({ level: 'silent' });

async function storeOn(url: string): Promise<ObjectStore> {
  // No client retries: the lease retries on its own rhythm, well within its TTL.
  return openGcsObjectStore({ bucket: BUCKET, prefix: 'rw/', apiEndpoint: url, retry: { maxRetries: 0 } });
}

/** Every change of mayAct, with the monotonic time it was heard. */
function track(lease: GcsLease): Array<{ leader: boolean; at: number }> {
  const changes: Array<{ leader: boolean; at: number }> = [];
  lease.onChange((leader) => changes.push({ leader, at: performance.now() }));
  return changes;
}

describe('a leader lease in a Cloud Storage object (emulator, real client)', () => {
  const cleanups = useCleanups();
  let emulator: StorageEmulator;

  beforeEach(async () => {
    emulator = await startStorageEmulator({
      host: '127.0.0.1',
      port: 0,
      project: 'demo',
      buckets: [BUCKET],
      clock: Date.now,
      logger,
    });
    cleanups.push(() => emulator.stop());
  });

  async function lease(holder: string, url = emulator.url, scope: 'watch' | 'backup' = 'watch') {
    const made = new GcsLease({ store: await storeOn(url), scope, holder, timing: TIMING, logger });
    cleanups.push(() => made.stop());
    return made;
  }

  const leaseObject = () => emulator.objects(BUCKET).find((object) => object.name === 'rw/lease/watch');

  it('is taken by exactly one of two, the object naming the holder; the other stays a standby', async () => {
    const a = await lease('a');
    const b = await lease('b');
    a.start();
    b.start();
    const leader = await waitFor(() => (a.mayAct() ? a : b.mayAct() ? b : undefined), 'a leader', TAKEOVER);
    const other = leader === a ? b : a;
    expect(other.mayAct()).toBe(false);
    expect(other.generation()).toBeUndefined();
    expect(leader.generation()).toBe(leaseObject()?.generation);
    const holder = leader === a ? 'a' : 'b';
    await waitFor(
      () => (other.view().holder === holder ? true : undefined),
      'the standby reads the holder',
      TAKEOVER,
    );
    expect(other.view()).toMatchObject({ leader: false, generation: leaseObject()?.generation });
    // Renewed every third of the TTL: the generation moves on, the holder stays.
    const first = leader.generation() as number;
    await waitFor(() => ((leader.generation() ?? 0) > first ? true : undefined), 'a renew', TAKEOVER);
    expect(other.mayAct()).toBe(false);
  });

  it('runs the beforeActing hooks, in order, before acting', async () => {
    const a = await lease('a');
    const seen: string[] = [];
    a.beforeActing(async () => {
      seen.push(`first:${a.mayAct()}`);
    });
    a.beforeActing(async () => {
      seen.push(`second:${a.mayAct()}`);
    });
    a.onChange((leader) => seen.push(`leader:${leader}`));
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    expect(seen).toEqual(['first:false', 'second:false', 'leader:true']);
  });

  it('is released on stop, so the standby takes it without waiting a TTL', async () => {
    const a = await lease('a');
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    await a.stop();
    expect(leaseObject()).toBeUndefined();
    const b = await lease('b');
    b.start();
    await waitFor(() => (b.mayAct() ? true : undefined), 'b takes the released lease', TAKEOVER);
  });

  it('is lost at once when another writes the object (a lost compare-and-swap)', async () => {
    const a = await lease('a');
    const changes = track(a);
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    const store = await storeOn(emulator.url);
    const current = leaseObject()?.generation as number;
    await store.write(
      'lease/watch',
      Buffer.from(JSON.stringify({ holder: 'intruder', since: new Date().toISOString(), ttl_ms: 60_000 })),
      { ifGenerationMatch: current },
      AbortSignal.timeout(5_000),
    );
    await waitFor(() => (a.mayAct() ? undefined : true), 'a lost the lease', TAKEOVER);
    expect(changes.map((change) => change.leader)).toEqual([true, false]);
    expect(a.view()).toMatchObject({ leader: false });
  });

  it('rides out the bucket answering 503 for less than a TTL: no loss, no takeover', async () => {
    const a = await lease('a');
    const b = await lease('b');
    const changesA = track(a);
    const changesB = track(b);
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    b.start();
    await waitFor(() => (b.view().holder === 'a' ? true : undefined), 'b sees a', TAKEOVER);
    const before = a.generation() as number;
    // Right after a renew: the next is due in a third of the TTL, and 503s cover half of it.
    await waitFor(() => ((a.generation() ?? 0) > before ? true : undefined), 'a renew', TAKEOVER);
    emulator.injectFault({ operation: '*', bucket: BUCKET, status: 503, forMs: TIMING.ttlMs / 2 });
    const after = a.generation() as number;
    await waitFor(
      () =>
        (a.generation() ?? 0) > after && emulator.pendingFaults().faults.length === 0 ? true : undefined,
      'a renews again after the 503s',
      TAKEOVER,
    );
    expect(changesA.map((change) => change.leader)).toEqual([true]);
    expect(changesB).toEqual([]);
    expect(b.mayAct()).toBe(false);
  });

  it('a holder cut off from the bucket stops acting before the standby takes over', async () => {
    const doorA = await emulator.openDoor('a');
    const a = await lease('a', doorA);
    const b = await lease('b');
    const changesA = track(a);
    const changesB = track(b);
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    b.start();
    emulator.injectFault({ operation: '*', door: 'a', drop: true, forMs: 60_000 });
    await waitFor(() => (b.mayAct() ? true : undefined), 'b takes over', TAKEOVER);
    expect(a.mayAct()).toBe(false);
    const aStopped = changesA.find((change) => !change.leader);
    const bStarted = changesB.find((change) => change.leader);
    expect(aStopped).toBeDefined();
    expect(bStarted).toBeDefined();
    // Both leases live in this process, on one monotonic clock: a stopped before b began.
    expect((aStopped as { at: number }).at).toBeLessThan((bStarted as { at: number }).at);
    // Healed, a reads the new holder and stays a standby.
    emulator.clearFaults();
    await waitFor(() => (a.view().holder === 'b' ? true : undefined), 'a sees b', TAKEOVER);
    expect(a.mayAct()).toBe(false);
  });

  it('gives the lease up when preparing to act fails, and acts later once it works', async () => {
    const a = await lease('a');
    let fail = true;
    a.beforeActing(async () => {
      if (fail) throw new Error('no state copy');
    });
    const changes = track(a);
    a.start();
    await waitFor(() => (leaseObject() === undefined && fail ? undefined : true), 'a took it', TAKEOVER);
    await waitFor(() => (leaseObject() === undefined ? true : undefined), 'a gave it up', TAKEOVER);
    expect(changes).toEqual([]);
    fail = false;
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader at last', TAKEOVER);
  });

  it('status reads who holds each lease, nobody, or why it cannot tell', async () => {
    const a = await lease('a');
    a.start();
    await waitFor(() => (a.mayAct() ? true : undefined), 'a leader', TAKEOVER);
    const store = await storeOn(emulator.url);
    await store.write('lease/backup', Buffer.from('not json'), {}, AbortSignal.timeout(5_000));
    const leases = await readLeases(store, AbortSignal.timeout(5_000));
    expect(leases).toEqual([
      {
        scope: 'watch',
        holder: 'a',
        since: expect.any(String),
        generation: expect.any(Number),
        ttl_ms: TIMING.ttlMs,
      },
      {
        scope: 'backup',
        holder: null,
        since: null,
        generation: expect.any(Number),
        ttl_ms: null,
        error: 'the lease object is not JSON',
      },
    ]);
    await a.stop();
    expect((await readLeases(store, AbortSignal.timeout(5_000)))[0]).toEqual({
      scope: 'watch',
      holder: null,
      since: null,
      generation: null,
      ttl_ms: null,
    });
  });

  it('refuses a fault with both times and forMs, naming them', () => {
    expect(() => emulator.injectFault({ operation: '*', status: 503, times: 2, forMs: 10 })).toThrow(
      'a fault has times or forMs, not both',
    );
  });
});
