import type { EventBus, RunwardenEvents } from '../events/event-bus.js';
import type { HistoryRepo } from '../store/watch/history-repo.js';
import type { WatchEventBase } from '../events/watch-events.js';

const RECORDED = [
  'watch:baseline',
  'watch:started',
  'watch:promoted',
  'watch:alert',
  'watch:insufficient-data',
  'watch:ended',
  'watch:held',
  'watch:failure',
  'watch:candidate',
  'watch:step',
  'rollback:started',
  'rollback:completed',
  'rollback:failed',
  'rollback:refused',
] as const satisfies ReadonlyArray<keyof RunwardenEvents>;

/**
 * Writes every deploy-watch event to the audit history (`runwarden history`), in the process that
 * emitted it: the daemon and CLI commands alike, before any other listener sees the event (so a
 * notification can name the entry). Each entry keeps the `watch` lease generation held as it was
 * written (`leaseGeneration`, cluster only): the lease under which an action was sent. Returns the
 * unsubscribe function.
 */
export function recordHistory(
  events: EventBus,
  history: HistoryRepo,
  leaseGeneration: () => number | undefined = () => undefined,
): () => void {
  const offs = RECORDED.map((kind) =>
    events.onFirst(kind, (payload: WatchEventBase) =>
      history.add({
        service: payload.service,
        at: payload.at,
        kind,
        watchId: payload.watchId,
        revision: revisionOf(kind, payload),
        message: payload.reason,
        detail: payload,
        ...withGeneration(leaseGeneration()),
      }),
    ),
  );
  return () => {
    for (const off of offs) off();
  };
}

function revisionOf(kind: string, payload: WatchEventBase): string | null {
  if (kind.startsWith('rollback:') && 'to' in payload) return (payload as { to: string | null }).to;
  if (kind === 'watch:baseline') return payload.stable;
  return payload.candidate;
}

function withGeneration(generation: number | undefined): { leaseGeneration?: number } {
  return generation === undefined ? {} : { leaseGeneration: generation };
}
