/**
 * Where in a repeating interval a job named `name` runs: a stable offset in [0, intervalMs), the
 * same in every process and every restart, so many jobs of one interval (a probe per service) are
 * spread over it instead of all firing in the same millisecond. FNV-1a over the UTF-16 code units
 * of the name: cheap, no I/O, and well mixed for names that differ only in a suffix ("shop-1",
 * "shop-2"); the last step (a multiply-xorshift finaliser) spreads those further.
 */
export function spreadOffset(name: string, intervalMs: number): number {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0)
    throw new RangeError(`interval must be more than 0 ms, got ${intervalMs}`);
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index += 1) {
    hash ^= name.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return (hash >>> 0) % Math.floor(intervalMs);
}
