import { afterAll, beforeAll } from 'vitest';
import { type Playground, startPlayground } from '../../src/playground/index.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

/**
 * The emulator with one bucket, started once before a test file's tests and stopped after them.
 * Call the returned function (inside a test) for the running playground.
 */
export function useBucketPlayground(bucket: string): () => Playground {
  let playground: Playground | undefined;
  beforeAll(async () => {
    playground = await startPlayground({ services: [{ name: 'shop' }], buckets: [bucket] });
  });
  afterAll(async () => {
    await playground?.stop();
  });
  return () => {
    if (!playground) throw new Error('the playground runs only while the tests of its file do');
    return playground;
  };
}

/** The real store with some methods replaced; every other call goes to it unchanged. */
export function wrapStore(real: ObjectStore, replaced: Partial<ObjectStore>): ObjectStore {
  return {
    put: (...args) => real.put(...args),
    write: (...args) => real.write(...args),
    read: (...args) => real.read(...args),
    stat: (...args) => real.stat(...args),
    list: (...args) => real.list(...args),
    download: (...args) => real.download(...args),
    delete: (...args) => real.delete(...args),
    ...replaced,
  };
}

/**
 * The real store, except that its first stat lets `meanwhile` run after the bucket answered and
 * before the caller sees the answer: another writer acting between a check and an upload, at a
 * known moment instead of by luck. Every answer is the emulator's.
 */
export function raceAfterStat(
  real: ObjectStore,
  meanwhile: (name: string, signal: AbortSignal) => Promise<void>,
): ObjectStore {
  let raced = false;
  return wrapStore(real, {
    stat: async (name, s) => {
      const answer = await real.stat(name, s);
      if (!raced) {
        raced = true;
        await meanwhile(name, s);
      }
      return answer;
    },
  });
}
