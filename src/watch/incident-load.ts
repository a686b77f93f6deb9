import { UsageError } from '../core/errors.js';
import type { IncidentFacts, ServiceLocation } from '../core/incident-types.js';
import { groupRollbacks } from '../core/rollback-groups.js';
import type { Store } from '../store/store.js';
import type { HistoryEntry } from '../store/watch/history-repo.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import type { WatchedService } from './watched-service.js';

/** Which incidents a report covers: one watch, the rollback with this history id, or all since a time (ms). */
export type IncidentQuery = { watch: number } | { rollback: number } | { since: number };

type ReportStore = Pick<Store, 'watches' | 'evaluations' | 'history' | 'restores'>;

/** How far before a rollback outside a watch its start is looked for (it spans one Cloud Run operation). */
const ROLLBACK_SPAN_MS = 60 * 60_000;

/**
 * Reads from the store what the report of each incident needs; reads only. An unknown watch or
 * rollback id is a UsageError naming it. Incidents come oldest first.
 */
export function loadIncidents(
  store: ReportStore,
  services: readonly WatchedService[],
  query: IncidentQuery,
): IncidentFacts[] {
  const location = (service: string) => locationOf(services, service);
  if ('watch' in query) {
    const watch = store.watches.get(query.watch);
    if (!watch) throw new UsageError(`--watch ${query.watch}: no such watch`);
    return [ofWatch(store, watch, location(watch.service))];
  }
  if ('rollback' in query) {
    const entry = store.history.get(query.rollback);
    if (!entry?.kind.startsWith('rollback:'))
      throw new UsageError(
        `--rollback ${query.rollback}: no such rollback${entry ? ` (history entry ${entry.id} is ${entry.kind})` : ''}; \`runwarden history --json\` lists rollback entries with their id`,
      );
    const watch = entry.watchId === null ? undefined : store.watches.get(entry.watchId);
    if (watch) return [ofWatch(store, watch, location(watch.service))];
    const group = groupRollbacks(
      store.history.rollbacksOutsideWatches(entry.at - ROLLBACK_SPAN_MS, entry.service),
    ).find((entries) => entries.some((found) => found.id === entry.id)) ?? [entry];
    return [ofRollback(store, group, location(entry.service))];
  }
  const watches = store.watches
    .since(query.since)
    .map((watch) => ({ at: watch.startedAt, facts: ofWatch(store, watch, location(watch.service)) }));
  const rollbacks = groupRollbacks(store.history.rollbacksOutsideWatches(query.since)).map((group) => ({
    at: (group[0] as HistoryEntry).at,
    facts: ofRollback(store, group, location((group[0] as HistoryEntry).service)),
  }));
  return [...watches, ...rollbacks].sort((a, b) => a.at - b.at).map((incident) => incident.facts);
}

function ofWatch(store: ReportStore, watch: WatchRecord, location: ServiceLocation | null): IncidentFacts {
  const next = store.watches.next(watch.service, watch.id);
  return {
    service: watch.service,
    location,
    watch,
    history: store.history.forWatch(watch.id),
    evaluations: store.evaluations.allForWatch(watch.id),
    restores: store.restores.between(iso(watch.startedAt), next ? iso(next.startedAt) : null),
  };
}

function ofRollback(
  store: ReportStore,
  group: HistoryEntry[],
  location: ServiceLocation | null,
): IncidentFacts {
  const first = group[0] as HistoryEntry;
  const next = store.watches.since(first.at).find((watch) => watch.service === first.service);
  return {
    service: first.service,
    location,
    watch: null,
    history: group,
    evaluations: [],
    restores: store.restores.between(iso(first.at), next ? iso(next.startedAt) : null),
  };
}

function locationOf(services: readonly WatchedService[], key: string): ServiceLocation | null {
  const service = services.find((candidate) => candidate.key === key);
  return service
    ? { project: service.ref.project, region: service.ref.region, cloudRunService: service.ref.service }
    : null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
