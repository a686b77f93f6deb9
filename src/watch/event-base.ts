import type { WatchRecord } from '../store/watch/watches-repo.js';
import type { WatchEventBase } from '../events/watch-events.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** The common part of a watch event about `watch` (or the service, when there is no watch). */
export function watchEventBase(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord | null,
  why: { rule?: string | null; reason: string },
): WatchEventBase {
  return {
    service: service.key,
    candidate: watch?.candidate ?? null,
    stable: watch?.stable ?? rt.store.services.get(service.key)?.stableRevision ?? null,
    rule: why.rule ?? null,
    reason: why.reason,
    watchId: watch?.id ?? null,
    at: rt.clock(),
    dryRun: watch?.dryRun ?? service.config.mode === 'dry-run',
  };
}
