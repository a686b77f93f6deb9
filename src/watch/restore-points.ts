import { compareSchema, isArchiveFingerprint, type SchemaFingerprint } from '../core/schema-change.js';
import { errorMessage } from '../core/errors.js';
import type { WatchStore } from '../store/store.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { NO_RESTORE_POINT, type RestorePoint, type RestorePointReport } from '../core/restore-point.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The restore point of a new watch: a recent `runwarden predeploy` backup when there is one (taken
 * before the deploy: the best kind), otherwise a backup started now in the background (the tick is
 * never held up by it) and filled in when it is verified; in the watch role, which takes no backup,
 * the bucket's newest archive. `baseline` is the schema seen before the deploy was detected (in the
 * watch role, that archive's manifest).
 */
export function startRestorePoint(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  baseline: SchemaFingerprint | null,
): RestorePoint {
  const since = watch.startedAt - service.config.predeploy_reuse_within;
  const predeploy = rt.store.predeploys.claim(service.key, since, watch.id);
  let point: RestorePoint;
  if (predeploy) {
    point = {
      source: 'predeploy',
      backup: predeploy.backupFile,
      backupId: predeploy.backupId,
      takenAt: predeploy.at,
      fingerprint: predeploy.fingerprint,
      note: null,
    };
  } else if (rt.backup === null && baseline !== null && isArchiveFingerprint(baseline)) {
    // The watch role: the newest archive in the bucket before the deploy showed up (a backup
    // sidecar's; a new revision's sidecar backs up before its app starts) is the data to go back to.
    point = {
      source: 'bucket',
      backup: baseline.archive.url,
      backupId: null,
      takenAt: baseline.archive.takenAt,
      fingerprint: baseline,
      note: 'the newest archive in the bucket when the deploy was detected (this runwarden takes no backup)',
    };
  } else if (!service.config.pre_deploy_backup || rt.backup === null) {
    const why = service.config.pre_deploy_backup
      ? 'this runwarden takes no backup (the watch role: a backup sidecar backs up before a new revision starts)'
      : 'pre_deploy_backup is off';
    point = { ...NO_RESTORE_POINT, fingerprint: baseline, note: `no pre-deploy backup: ${why}` };
  } else {
    point = {
      ...NO_RESTORE_POINT,
      source: 'watch_start',
      fingerprint: baseline,
      note: 'backup running (started when the deploy was detected)',
    };
    backupInBackground(rt, service, watch, point);
  }
  rt.store.watches.setRestorePoint(watch.id, point);
  return point;
}

function backupInBackground(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  point: RestorePoint,
) {
  const backup = rt.backup;
  if (!backup) return;
  rt.background(`pre-deploy backup of ${service.key}`, async (signal) => {
    try {
      const taken = await backup.take({ service: service.key, trigger: 'watch' }, signal);
      rt.store.watches.setRestorePoint(watch.id, {
        ...point,
        backup: taken.file,
        backupId: taken.id,
        takenAt: taken.takenAt,
        note: 'taken when the deploy was detected: the new revision may already have changed data',
      });
    } catch (error) {
      const message = errorMessage(error);
      rt.store.watches.setRestorePoint(watch.id, { ...point, note: `pre-deploy backup failed: ${message}` });
      rt.logger.error({ service: service.key, err: message }, 'pre-deploy backup failed');
      rt.events.emit('watch:failure', {
        service: service.key,
        candidate: watch.candidate,
        stable: watch.stable,
        rule: null,
        reason: `the pre-deploy backup failed: ${message}`,
        watchId: watch.id,
        at: rt.clock(),
        dryRun: watch.dryRun,
        operation: 'backup',
        error: { code: (error as { code?: string }).code ?? 'RW_FAILED', message },
      });
    }
  });
}

/**
 * The restore point a rollback names, with whether the schema changed since: the watch's, else
 * the newest watch's, else the newest predeploy's. Data is never restored automatically; this only
 * tells a person whether rolling back code alone is enough.
 */
export async function restoreReport(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord | null,
  signal: AbortSignal,
): Promise<RestorePointReport> {
  const point = restorePointOf(rt.store, service.key, watch);
  let now: SchemaFingerprint | null = null;
  try {
    now = rt.schema ? await rt.schema.fingerprint(signal) : null;
  } catch (error) {
    return {
      ...point,
      schemaChanged: null,
      schemaDetail: `schema not compared: ${errorMessage(error)}`,
      schemaTenants: [],
    };
  }
  if (!rt.schema)
    return {
      ...point,
      schemaChanged: null,
      schemaDetail:
        'schema not compared: this runwarden reads no database and no readable bucket (the watch role without backup.offsite, or with encrypted copies)',
      schemaTenants: [],
    };
  const change = compareSchema(point.fingerprint, now);
  return {
    ...point,
    schemaChanged: change.changed,
    schemaDetail: change.detail,
    schemaTenants: change.tenants,
  };
}

/**
 * The restore point a rollback event names; when the store cannot say (it fails), one that says it
 * is unknown, so no rollback event is lost for want of it.
 */
export function restoreReportOrUnknown(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord | null,
  signal: AbortSignal,
): Promise<RestorePointReport> {
  return restoreReport(rt, service, watch, signal).catch((error: unknown) => ({
    ...NO_RESTORE_POINT,
    note: `restore point unknown: ${errorMessage(error)}`,
    schemaChanged: null,
    schemaDetail: 'schema not compared: the restore point could not be read',
    schemaTenants: [],
  }));
}

/** The restore point a rollback of `key` names: the watch's, else the newest watch's, else the newest predeploy's. */
export function restorePointOf(store: WatchStore, key: string, watch: WatchRecord | null): RestorePoint {
  const fresh = watch ? store.watches.get(watch.id) : store.watches.recent(key, 1)[0];
  if (fresh?.restorePoint) return fresh.restorePoint;
  const predeploy = store.predeploys.latest(key);
  if (predeploy && predeploy.error === null) {
    return {
      source: 'predeploy',
      backup: predeploy.backupFile,
      backupId: predeploy.backupId,
      takenAt: predeploy.at,
      fingerprint: predeploy.fingerprint,
      note: null,
    };
  }
  return NO_RESTORE_POINT;
}
