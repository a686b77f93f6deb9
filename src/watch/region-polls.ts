import type { CloudRunApi, Location, ServiceRef } from '../cloudrun/cloud-run-api.js';
import type { Clock } from '../core/clock.js';
import { FatalError, RunwardenError } from '../core/errors.js';
import { throttleWait } from '../core/throttle-backoff.js';
import type { ServiceObservation } from '../core/watch-types.js';

/** Told when Cloud Run refuses a project and region's listing: for quota (and when that ends), or for want of permission. */
export interface RegionPollListener {
  throttled(location: Location, untilMs: number, error: RunwardenError): void;
  recovered(location: Location): void;
  /** ListServices was refused (no run.services.list on the project): services are read one by one. */
  listDenied(location: Location, error: RunwardenError): void;
}

/** What the poll of one project and region last saw. */
export interface RegionListing {
  /** When the listing that gave `services` started (ms since the epoch). */
  at: number;
  services: ReadonlyMap<string, ServiceObservation>;
}

interface Observed {
  listing: RegionListing;
  stale: boolean;
}

interface Region {
  listing: RegionListing | null;
  running: Promise<Observed> | null;
  /** Quota refusals in a row; 0 when the last listing went through. */
  refusals: number;
  restUntil: number;
  /** ListServices is denied here: each service is read with GetService (per-service IAM grants). */
  oneByOne: boolean;
}

/**
 * The watch's reads of Cloud Run, one ListServices per project and region shared by every service
 * there: ticks of the same poll interval fire together (the scheduler starts them together) and
 * join the listing in flight, so 500 services in one region cost one page a poll, not 500
 * GetService calls. A tick that comes alone (a nudge after a failed probe) lists again: it wants
 * the service as it is now, and a listing is one read. When Cloud Run refuses a listing for quota (RW_CLOUDRUN_THROTTLED, after the
 * adapter's own retries), the region rests (core/throttle-backoff.ts) and ticks meanwhile get the
 * last listing, marked stale, instead of an error: watches go on from probes and metrics, and an
 * action still carries the listing's etag, which Cloud Run refuses if it is out of date.
 */
export class RegionPolls {
  readonly #regions = new Map<string, Region>();

  constructor(
    private readonly cloudRun: CloudRunApi,
    private readonly clock: Clock,
    private readonly listener: RegionPollListener,
  ) {}

  /**
   * The service as its region's listing shows it, and whether that listing is stale (the region is
   * resting after a quota refusal). Rejects with the listing's error; with RW_CLOUDRUN_NOT_FOUND
   * when the listing has no such service; with RW_CLOUDRUN_THROTTLED while resting with no
   * listing at all. Where listing is denied, the service is read alone (GetService) from then on.
   */
  async observe(
    ref: ServiceRef,
    signal: AbortSignal,
  ): Promise<{ observation: ServiceObservation; stale: boolean }> {
    const region = this.#region(ref);
    if (region.oneByOne) return { observation: await this.cloudRun.getService(ref, signal), stale: false };
    let observed: Observed;
    try {
      observed = await this.#observed(ref, region, signal);
    } catch (error) {
      if (region.oneByOne) return { observation: await this.cloudRun.getService(ref, signal), stale: false };
      throw error;
    }
    const { listing, stale } = observed;
    const observation = listing.services.get(ref.service);
    if (!observation)
      throw new FatalError(
        'RW_CLOUDRUN_NOT_FOUND',
        `service ${ref.service} is not among the ${listing.services.size} services Cloud Run lists in projects/${ref.project}/locations/${ref.region}`,
      );
    return { observation, stale };
  }

  #observed(ref: ServiceRef, region: Region, signal: AbortSignal): Promise<Observed> {
    if (region.running) return region.running;
    if (this.clock() < region.restUntil) {
      if (!region.listing)
        throw new FatalError(
          'RW_CLOUDRUN_THROTTLED',
          `Cloud Run refused reads of ${ref.project}/${ref.region} for quota; resting until ${new Date(region.restUntil).toISOString()}`,
        );
      return Promise.resolve({ listing: region.listing, stale: true });
    }
    return this.#list(ref, region, signal);
  }

  /** Whether the region of `location` is resting after a quota refusal, and until when. */
  restingUntil(location: Location): number | null {
    const region = this.#regions.get(keyOf(location));
    return region && region.restUntil > this.clock() ? region.restUntil : null;
  }

  #list(location: Location, region: Region, signal: AbortSignal): Promise<Observed> {
    const at = this.clock();
    const running = this.cloudRun
      .listServices({ project: location.project, region: location.region }, signal)
      .then(
        (services) => {
          const listing = { at, services };
          region.listing = listing;
          if (region.refusals > 0) this.listener.recovered(location);
          region.refusals = 0;
          region.restUntil = 0;
          return { listing, stale: false };
        },
        (error: unknown) => {
          if (error instanceof RunwardenError && error.code === 'RW_CLOUDRUN_THROTTLED') {
            region.refusals += 1;
            region.restUntil = this.clock() + throttleWait(region.refusals);
            this.listener.throttled(location, region.restUntil, error);
            // Ticks waiting on this listing go on with the last one, as the ones after them will.
            if (region.listing) return { listing: region.listing, stale: true };
          }
          if (error instanceof RunwardenError && error.code === 'RW_CLOUDRUN_DENIED' && !region.oneByOne) {
            // Roles granted on each service, not on the project: keep working, at one read each.
            region.oneByOne = true;
            this.listener.listDenied(location, error);
          }
          throw error;
        },
      )
      .finally(() => {
        region.running = null;
      });
    region.running = running;
    return running;
  }

  #region(location: Location): Region {
    const key = keyOf(location);
    let region = this.#regions.get(key);
    if (!region) {
      region = { listing: null, running: null, refusals: 0, restUntil: 0, oneByOne: false };
      this.#regions.set(key, region);
    }
    return region;
  }
}

function keyOf(location: Location): string {
  return `${location.project}/${location.region}`;
}
