import type { TrafficTarget } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';

/** A Cloud Run service, by the three names that locate it. */
export interface ServiceRef {
  project: string;
  region: string;
  service: string;
}

/** Where services live: the scope of one ListServices and of Cloud Run's per-region API quotas. */
export type Location = Pick<ServiceRef, 'project' | 'region'>;

/**
 * The Cloud Run Admin API's default read quota, per project and region, in requests a minute, as
 * the Cloud Run quotas page (https://cloud.google.com/run/quotas, "API rate limits") gave it when
 * this was written: a figure to verify against the project's own Quotas page, which may differ
 * (quotas can be raised, and Google changes defaults). Every GetService and every page of a
 * ListServices counts as one read. The bench compares runwarden's reads with it.
 */
export const CLOUD_RUN_READS_PER_MINUTE_QUOTA = 1_000;

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
  /**
   * Every service of a project and region, whole (as getService would give each), by short service
   * name. One read per page of up to `LIST_PAGE_SIZE` services, whatever the number watched: the
   * poll's cost does not grow with services.
   */
  listServices(location: Location, signal: AbortSignal): Promise<Map<string, ServiceObservation>>;
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

/** Services asked for per ListServices page; Cloud Run allows at most 1,000 services per region. */
export const LIST_PAGE_SIZE = 500;

export function locationName(location: Location): string {
  return `projects/${location.project}/locations/${location.region}`;
}

export function serviceResourceName(ref: ServiceRef): string {
  return `${locationName(ref)}/services/${ref.service}`;
}
