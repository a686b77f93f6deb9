// The two clients' own modules, not the package index: the index also loads every other Cloud Run
// client and protos/protos.js (a 4 MB static module of every message), about 12 MB of heap and
// 25 MB of RSS with Monitoring's alike that the daemon never uses (measured for issue 18).
import { RevisionsClient } from '@google-cloud/run/build/src/v2/revisions_client.js';
import { ServicesClient } from '@google-cloud/run/build/src/v2/services_client.js';
import type { CloudRunConfig } from '../config/schema/google-apis.js';
import type { TrafficTarget } from '../core/rollback-plan.js';
import type { ServiceObservation } from '../core/watch-types.js';
import { FatalError, RunwardenError } from '../core/errors.js';
import { googleClientOptions } from '../google/client-options.js';
import { LazyClient } from '../google/lazy-client.js';
import { mapGoogleError } from '../google/grpc-errors.js';
import { abortable, withRetry } from '../google/retry.js';
import { sleep } from '../util/sleep.js';
import {
  type CloudRunApi,
  LIST_PAGE_SIZE,
  type Location,
  locationName,
  type RevisionInfo,
  type ServiceRef,
  serviceResourceName,
} from './cloud-run-api.js';
import { shortName, toObservation, toRevisionInfo } from './service-schema.js';

const LATEST = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST' as const;
const REVISION = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const;

/**
 * The Cloud Run Admin API v2 over gRPC with @google-cloud/run's ServicesClient and RevisionsClient.
 * The library's own retries are turned off so every transient failure goes through one policy
 * (backoff within `retry_deadline`) and is mapped to runwarden's errors here, at the boundary.
 */
export class GrpcCloudRun implements CloudRunApi {
  readonly #services: LazyClient<ServicesClient>;
  readonly #revisions: LazyClient<RevisionsClient>;
  readonly #config: CloudRunConfig;
  readonly #call: { timeout: number; retry: null };
  readonly #listPageSize: number;

  /** `listPageSize`: services per ListServices page (tests make it small to see paging). */
  constructor(config: CloudRunConfig, tuning: { listPageSize?: number } = {}) {
    const options = googleClientOptions(config);
    // Built on first call: a process that never calls Cloud Run never starts Google auth.
    this.#services = new LazyClient('Cloud Run services', () => new ServicesClient(options));
    this.#revisions = new LazyClient('Cloud Run revisions', () => new RevisionsClient(options));
    this.#config = config;
    this.#call = { timeout: config.call_timeout, retry: null };
    this.#listPageSize = tuning.listPageSize ?? LIST_PAGE_SIZE;
  }

  getService(ref: ServiceRef, signal: AbortSignal): Promise<ServiceObservation> {
    const name = serviceResourceName(ref);
    return this.#retrying(`get service ${name}`, signal, async () => {
      const [service] = await this.#services.get().getService({ name }, this.#call);
      return toObservation(service);
    });
  }

  listServices(location: Location, signal: AbortSignal): Promise<Map<string, ServiceObservation>> {
    const parent = locationName(location);
    return this.#retrying(`list services of ${parent}`, signal, async () => {
      // Page by page (one read each), into one map: the poll wants them all.
      const listed = new Map<string, ServiceObservation>();
      const pages = this.#services
        .get()
        .listServicesAsync({ parent, pageSize: this.#listPageSize }, { ...this.#call, autoPaginate: false });
      for await (const service of pages)
        listed.set(shortName(String(service.name ?? '')), toObservation(service));
      return listed;
    });
  }

  listRevisions(ref: ServiceRef, signal: AbortSignal): Promise<RevisionInfo[]> {
    const parent = serviceResourceName(ref);
    return this.#retrying(`list revisions of ${parent}`, signal, async () => {
      const [revisions] = await this.#revisions
        .get()
        .listRevisions({ parent }, { ...this.#call, autoPaginate: true });
      return revisions.map(toRevisionInfo).sort((a, b) => b.createdAt - a.createdAt);
    });
  }

  async updateTraffic(
    ref: ServiceRef,
    traffic: readonly TrafficTarget[],
    etag: string,
    signal: AbortSignal,
    onAccepted?: () => void,
  ): Promise<ServiceObservation> {
    const name = serviceResourceName(ref);
    const request = {
      service: {
        name,
        etag,
        traffic: traffic.map((target) => ({
          type: target.revision === null ? LATEST : REVISION,
          revision: target.revision ?? '',
          percent: target.percent,
          tag: target.tag ?? '',
        })),
      },
      // Only the traffic changes; the template and everything else stay as they are.
      updateMask: { paths: ['traffic'] },
    };
    // Safe to retry: with the etag precondition, a repeat of an update that did land is refused
    // (RW_CLOUDRUN_CONFLICT) instead of being applied twice.
    const operationName = await this.#retrying(`update traffic of ${name}`, signal, async () => {
      const [operation] = await this.#services.get().updateService(request, this.#call);
      return operation.name ?? '';
    });
    onAccepted?.();
    return this.#waitForOperation(operationName, name, signal);
  }

  close(): Promise<void> {
    return Promise.all([this.#services.close(), this.#revisions.close()]).then(() => undefined);
  }

  async #waitForOperation(operationName: string, service: string, signal: AbortSignal) {
    const doing = `wait for the traffic update of ${service}`;
    if (!operationName) throw new FatalError('RW_CLOUDRUN_OPERATION', `${doing}: no operation name returned`);
    const deadline = Date.now() + this.#config.operation_timeout;
    for (let poll = 0; ; poll += 1) {
      const operation = await this.#retrying(doing, signal, () =>
        this.#services.get().checkUpdateServiceProgress(operationName),
      );
      if (operation.error) {
        const failure = mapGoogleError(doing, operation.error, 'CLOUDRUN');
        throw failure.code === 'RW_CLOUDRUN_CONFLICT'
          ? failure
          : new FatalError('RW_CLOUDRUN_OPERATION', failure.message, { cause: failure });
      }
      if (operation.done) return toObservation(operation.result);
      if (Date.now() >= deadline)
        throw new FatalError(
          'RW_CLOUDRUN_OPERATION',
          `${doing}: not done after ${this.#config.operation_timeout} ms`,
        );
      await sleep(Math.min(1_000, 25 * 2 ** poll), signal);
    }
  }

  #retrying<T>(doing: string, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    return withRetry(
      () =>
        abortable(call(), signal).catch((error: unknown) => {
          if (signal.aborted || error instanceof RunwardenError) throw error;
          throw mapGoogleError(doing, error, 'CLOUDRUN');
        }),
      { deadlineMs: this.#config.retry_deadline },
      signal,
    );
  }
}

export const _check = GrpcCloudRun satisfies new (config: CloudRunConfig) => CloudRunApi;
