import type { TrafficTarget } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';

/** A Cloud Run service, by the three names that locate it. */
export interface ServiceRef {
  project: string;
  region: string;
  service: string;
}

/** A revision of a service as listed by Cloud Run. */
export interface RevisionInfo {
  /** Short name, e.g. "shop-00012-abc". */
  name: string;
  ready: boolean;
  /** ms since the epoch. */
  createdAt: number;
}

/**
 * The Cloud Run Admin API as the deploy watch needs it. Every method takes an AbortSignal (an abort
 * rejects with the signal's reason) and fails with the classes of src/errors.ts:
 * RetryableError for transient failures (already retried with backoff until the configured deadline),
 * FatalError otherwise, with stable codes: RW_CLOUDRUN_NOT_FOUND, RW_CLOUDRUN_DENIED,
 * RW_CLOUDRUN_CONFLICT (etag precondition failed: someone else changed the service),
 * RW_CLOUDRUN_OPERATION (the update operation failed or timed out), RW_CLOUDRUN_FAILED.
 */
export interface CloudRunApi {
  /** The service now: etag, URL, latest ready revision and the traffic actually served. */
  getService(ref: ServiceRef, signal: AbortSignal): Promise<ServiceObservation>;
  /** Every revision of the service, newest first. */
  listRevisions(ref: ServiceRef, signal: AbortSignal): Promise<RevisionInfo[]>;
  /**
   * Replaces the service's traffic with `traffic`, only if the service still has `etag` (never
   * clobbers a change made meanwhile), and waits for the operation to finish. Resolves with the
   * service as the operation left it. `onAccepted` runs once Cloud Run has accepted the request
   * (the operation exists), before the wait, so a caller can announce the change without delaying it.
   */
  updateTraffic(
    ref: ServiceRef,
    traffic: readonly TrafficTarget[],
    etag: string,
    signal: AbortSignal,
    onAccepted?: () => void,
  ): Promise<ServiceObservation>;
}

export function serviceResourceName(ref: ServiceRef): string {
  return `projects/${ref.project}/locations/${ref.region}/services/${ref.service}`;
}
