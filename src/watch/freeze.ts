import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

/** What `freeze` / `unfreeze` did: `changed` is false when there was nothing to do. */
export interface FreezeResult {
  service: string;
  frozen: boolean;
  changed: boolean;
  /** The reason the service is frozen for now (null when unfrozen or none was ever given). */
  reason: string | null;
}

/**
 * `runwarden freeze`: while frozen, the watch still observes, evaluates and records, but takes no
 * automatic action (no rollback, no promotion; alerts are refused too). A person's
 * `runwarden rollback` and `promote` still work. Takes effect at the daemon's next tick.
 *
 * Freezing a frozen service keeps the time it was frozen, and keeps its reason unless a new one is
 * given: a second `freeze` run to be sure must not wipe why the first person froze it. A new reason
 * replaces the old one, and the history records both.
 */
export function freezeService(rt: WatchRuntime, key: string, reason: string | null): FreezeResult {
  const service = findService(rt.services, key);
  const now = rt.clock();
  // Immediate: the read and the write are one step even with another CLI or the daemon writing.
  return rt.store.transaction((): FreezeResult => {
    const before = rt.store.services.get(service.key);
    const wasFrozen = before?.frozen ?? false;
    const previous = wasFrozen ? (before?.frozenReason ?? null) : null;
    const kept = reason ?? previous;
    const result = { service: service.key, frozen: true, reason: kept };
    if (wasFrozen && kept === previous) return { ...result, changed: false };
    rt.store.services.setFrozen(service.key, true, kept, now);
    record(rt, service.key, now, {
      kind: 'service:frozen',
      message: wasFrozen
        ? `still frozen; reason now: ${kept} (was: ${previous ?? 'none given'})`
        : `frozen${kept ? `: ${kept}` : ''}; no automatic action`,
      detail: { frozen: true, reason: kept, previous_reason: previous },
    });
    return { ...result, changed: true };
  }, 'immediate');
}

/** `runwarden unfreeze`: automatic actions resume from the daemon's next tick. */
export function unfreezeService(rt: WatchRuntime, key: string): FreezeResult {
  const service = findService(rt.services, key);
  const now = rt.clock();
  return rt.store.transaction((): FreezeResult => {
    const result = { service: service.key, frozen: false, reason: null };
    if (!(rt.store.services.get(service.key)?.frozen ?? false)) return { ...result, changed: false };
    rt.store.services.setFrozen(service.key, false, null, now);
    record(rt, service.key, now, {
      kind: 'service:unfrozen',
      message: 'unfrozen; automatic actions resume',
      detail: { frozen: false, reason: null },
    });
    return { ...result, changed: true };
  }, 'immediate');
}

function record(
  rt: WatchRuntime,
  service: string,
  now: number,
  entry: { kind: 'service:frozen' | 'service:unfrozen'; message: string; detail: Record<string, unknown> },
): void {
  rt.store.history.add({
    service,
    at: now,
    watchId: rt.store.watches.open(service)?.id ?? null,
    revision: null,
    ...entry,
  });
}
