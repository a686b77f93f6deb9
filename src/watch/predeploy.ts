import { servingOf } from '../core/watch-types.js';
import { errorMessage, FatalError } from '../core/errors.js';
import type { PredeployRecord } from '../store/watch/predeploys-repo.js';
import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

export interface PredeployResult {
  service: string;
  /** The last known good revision recorded (the one serving all traffic now, unless it is being judged). */
  stable: string | null;
  record: PredeployRecord;
}

/**
 * `runwarden predeploy`: for a CI pipeline to call right before `gcloud run deploy`. Records the
 * revision serving all traffic as the last known good one (unless a watch is still judging it, or
 * it is marked bad), reads the database schema, and takes a verified backup. The watch of the
 * deploy that follows names this backup as its restore point. Throws when the backup fails (the
 * failure is recorded too), so the pipeline can stop before deploying.
 */
export async function predeploy(
  rt: WatchRuntime,
  key: string,
  signal: AbortSignal,
): Promise<PredeployResult> {
  const service = findService(rt.services, key);
  const observation = await rt.cloudRun.getService(service.ref, signal);
  const memory = rt.store.memory(service.key);
  const serving = Object.entries(servingOf(observation.traffic));
  const sole = serving.length === 1 && serving[0]?.[1] === 100 ? serving[0][0] : null;
  let stable = memory.stable;
  if (sole && !memory.watch && !memory.bad.has(sole) && sole !== memory.stable) {
    const now = rt.clock();
    rt.store.transaction(() => {
      rt.store.services.setStable(service.key, sole, 'predeploy', now);
      rt.store.knownGood.append(service.key, sole, 'baseline', now);
    });
    stable = sole;
  }
  // The schema is read before the backup starts: a migration that lands in between is then seen as
  // a change (the safe side), never missed.
  const fingerprint = rt.schema ? await rt.schema.fingerprint(signal) : null;
  const at = rt.clock();
  if (!rt.backup)
    throw new FatalError(
      'RW_PREDEPLOY_NO_BACKUP',
      'predeploy: no backup is configured (backup: in the config)',
    );
  try {
    const taken = await rt.backup.take({ service: service.key, trigger: 'cli' }, signal);
    const record = rt.store.predeploys.add({
      service: service.key,
      at: taken.takenAt,
      stable,
      backupFile: taken.file,
      backupId: taken.id,
      fingerprint,
      error: null,
    });
    rt.store.history.add({
      service: service.key,
      at,
      kind: 'predeploy',
      watchId: null,
      revision: stable,
      message: `pre-deploy backup ${taken.file}; stable revision ${stable ?? 'unknown'}`,
      detail: record,
    });
    return { service: service.key, stable, record };
  } catch (error) {
    const message = errorMessage(error);
    const record = rt.store.predeploys.add({
      service: service.key,
      at,
      stable,
      backupFile: null,
      backupId: null,
      fingerprint,
      error: message,
    });
    rt.store.history.add({
      service: service.key,
      at,
      kind: 'predeploy',
      watchId: null,
      revision: stable,
      message: `pre-deploy backup failed: ${message}`,
      detail: record,
    });
    throw error;
  }
}
