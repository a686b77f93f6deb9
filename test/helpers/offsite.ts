import type { ObjectStore } from '../../src/storage/object-store.js';

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
  return {
    put: (...args) => real.put(...args),
    write: (...args) => real.write(...args),
    read: (...args) => real.read(...args),
    list: (...args) => real.list(...args),
    download: (...args) => real.download(...args),
    delete: (...args) => real.delete(...args),
    stat: async (name, s) => {
      const answer = await real.stat(name, s);
      if (!raced) {
        raced = true;
        await meanwhile(name, s);
      }
      return answer;
    },
  };
}
