import type { WatchRecord } from '../store/watch/watches-repo.js';
import { watchEventBase } from './event-base.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The candidate passed its window clean: it becomes the last known good revision. Compare-and-set
 * on the watch, so if a person ended it meanwhile nothing is promoted. Returns whether it was.
 */
export function promoteWatch(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  reason: string,
): boolean {
  const now = rt.clock();
  const previous = rt.store.services.get(service.key)?.stableRevision ?? null;
  const promoted = rt.store.transaction(() => {
    if (!rt.store.watches.end(watch.id, 'promoted', reason, now)) return false;
    rt.store.services.setStable(service.key, watch.candidate, 'promoted', now);
    rt.store.revisions.mark(service.key, watch.candidate, 'good', reason, now);
    // Opens the revision's rollback window for the guard (see core/known-good.ts).
    rt.store.knownGood.append(service.key, watch.candidate, 'promoted', now);
    return true;
  });
  if (!promoted) return false;
  rt.metrics.activeWatches.set({ service: service.key }, 0);
  rt.events.emit('watch:promoted', {
    ...watchEventBase(rt, service, watch, { reason }),
    stable: watch.candidate,
    trigger: 'watch',
    previous,
  });
  rt.logger.info({ service: service.key, revision: watch.candidate }, 'promoted to last known good');
  return true;
}
