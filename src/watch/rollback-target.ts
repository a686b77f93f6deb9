import { type KnownGoodEntry, rollbackTarget, rollbackWindow, type WindowState } from '../core/known-good.js';
import { servingOf, type TrafficEntry } from '../core/watch-types.js';
import type { WatchStore } from '../store/store.js';
import type { WatchedService } from './watched-service.js';

/** Where a rollback with no named target goes now, and the serving revision's rollback window. */
export interface DefaultTarget {
  to: string | null;
  /** The revision serving all traffic (else the stable one); what a rollback leaves. */
  serving: string | null;
  /** A candidate is watched: the target is the stable revision and no window applies. */
  watching: boolean;
  window: WindowState;
  knownGood: KnownGoodEntry[];
}

/**
 * The default rollback target from the store (and the traffic, when it was just read; otherwise the
 * last poll's snapshot): the stable revision during a watch, else the known good one before the
 * serving revision. Used by the rollback path, `runwarden rollback` and `status` alike.
 */
export function defaultTarget(
  store: WatchStore,
  service: WatchedService,
  now: number,
  traffic?: readonly TrafficEntry[],
): DefaultTarget {
  const memory = store.memory(service.key);
  const shares = traffic ? servingOf(traffic) : (memory.snapshot?.serving ?? {});
  const sole = Object.entries(shares).find(([, percent]) => percent === 100)?.[0] ?? null;
  const serving = sole ?? memory.stable;
  const knownGood = store.knownGood.list(service.key);
  const watching = memory.watch !== null;
  return {
    to: rollbackTarget({ knownGood, stable: memory.stable, watching, serving, bad: memory.bad }),
    serving,
    watching,
    window: rollbackWindow(knownGood, serving, now, service.config.guard.rollback_window),
    knownGood,
  };
}
