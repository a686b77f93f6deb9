import { byPerson } from '../core/rollback-plan.js';
import { type SchemaGate, schemaGate } from '../core/schema-gate.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { restoreReportOrUnknown } from './restore-points.js';
import type { RollbackRequest } from './rollback-request.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The schema gate of an automatic rollback to `to` (leaving `from`): with on_schema_change alert
 * (the guard's default), a schema changed since the target last served stops it. The restore point
 * compared is the open watch's, else that of the watch that promoted the revision being left (its
 * fingerprint is the schema when the target last served). With `rollback` nothing is read here: the
 * rollback's own restore point says it, and rollback-execute logs it loudly.
 */
export async function schemaGateFor(
  rt: WatchRuntime,
  service: WatchedService,
  request: RollbackRequest,
  plan: { to: string; from: readonly string[] },
  signal: AbortSignal,
): Promise<SchemaGate> {
  const go: SchemaGate = { kind: 'go', loud: false, detail: 'not checked' };
  if (byPerson(request.trigger) || request.owed) return go;
  const open = request.watch ?? rt.store.watches.open(service.key) ?? null;
  const policy = open ? service.config.on_schema_change : service.config.guard.on_schema_change;
  if (policy === 'rollback') return go;
  const point = open ?? promotingWatch(rt, service, plan.from);
  const report = await restoreReportOrUnknown(rt, service, point, signal);
  return schemaGate(
    policy,
    { changed: report.schemaChanged, detail: report.schemaDetail },
    { service: service.key, to: plan.to, backup: report.backup },
  );
}

function promotingWatch(
  rt: WatchRuntime,
  service: WatchedService,
  from: readonly string[],
): WatchRecord | null {
  return (
    rt.store.watches
      .recent(service.key, 20)
      .find((watch) => watch.status === 'promoted' && from.includes(watch.candidate)) ?? null
  );
}
