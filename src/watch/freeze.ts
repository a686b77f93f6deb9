import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

/**
 * `runwarden freeze` / `unfreeze`: while frozen, the watch still observes, evaluates and records,
 * but takes no automatic action (no rollback, no promotion; alerts are refused too). A person's
 * `runwarden rollback` and `promote` still work. Takes effect at the daemon's next tick.
 */
export function setFrozen(
  rt: WatchRuntime,
  key: string,
  frozen: boolean,
  reason: string | null,
): { service: string; frozen: boolean; changed: boolean } {
  const service = findService(rt.services, key);
  const now = rt.clock();
  const before = rt.store.services.get(service.key)?.frozen ?? false;
  rt.store.services.setFrozen(service.key, frozen, reason, now);
  if (before !== frozen) {
    rt.store.history.add({
      service: service.key,
      at: now,
      kind: frozen ? 'service:frozen' : 'service:unfrozen',
      watchId: rt.store.watches.open(service.key)?.id ?? null,
      revision: null,
      message: frozen
        ? `frozen${reason ? `: ${reason}` : ''}; no automatic action`
        : 'unfrozen; automatic actions resume',
      detail: { frozen, reason },
    });
  }
  return { service: service.key, frozen, changed: before !== frozen };
}
