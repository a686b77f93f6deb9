import type { Logger } from '../telemetry/logger.js';
import type { BehaviourInput, resolveBehaviour } from './behaviour.js';
import type { EmulatorEndpoint } from './client-options.js';
import type { Fault } from './faults.js';
import type { ServiceAccess } from './identity.js';
import type { StorageEmulator } from './storage-emulator.js';
import type { DriveOptions, DriveSummary } from './traffic-driver.js';
import type { TrafficStatus, TrafficTarget } from './traffic-spec.js';
import type { ServedCount } from './world.js';

/* The playground's public shapes, apart from its start-up code (the control API needs them too). */

export interface PlaygroundOptions {
  /** Loopback address every listener binds; 127.0.0.1 by default. */
  host?: string;
  /** gRPC port; 0 (default) picks a free one. */
  grpcPort?: number;
  /** Control API port; 0 (default) picks a free one. */
  controlPort?: number;
  /** Metadata server and IAM Credentials port; 0 (default) picks a free one. */
  identityPort?: number;
  /** Cloud Storage JSON API port; 0 (default) picks a free one. */
  storagePort?: number;
  /** Parent of the temporary folder holding stored objects' bytes; the OS temp folder by default. */
  storageDir?: string;
  /** Monitoring sample period, ms; 60 000 (Cloud Run's) by default; tests use ~1 000. */
  samplePeriodMs?: number;
  /** Delay before a finished sample period is visible in Monitoring, ms; 150 000 by default. */
  ingestionDelayMs?: number;
  /** GetOperation polls before an UpdateService operation is done (and applied); 1 by default. */
  operationPolls?: number;
  logger?: Logger;
  /** Epoch ms; Date.now by default. */
  clock?: () => number;
}

/** A revision as the playground shows it. */
export interface RevisionView {
  /** Short name, as in traffic targets. */
  name: string;
  /** projects/P/locations/L/services/S/revisions/R */
  resourceName: string;
  /** The revision's own server (bypasses the traffic split). */
  url: string;
  behaviour: ReturnType<typeof resolveBehaviour>;
}

/** Traffic a service is serving now; `uri` is the tag URL for tagged targets. */
export type ServedTraffic = TrafficStatus & { uri?: string };

/**
 * Google identity as the playground plays it: a metadata server whose default service account
 * mints ID tokens (point GCE_METADATA_HOST at `metadataHost`), the IAM Credentials API for
 * impersonation, and services that may require an ID token (like Cloud Run without allUsers).
 */
export interface PlaygroundIdentity {
  /** host:port of the metadata server, for GCE_METADATA_HOST. */
  readonly metadataHost: string;
  /** Base URL of the IAM Credentials API (generateIdToken). */
  readonly iamEndpoint: string;
  /** The metadata server's default service account. */
  readonly serviceAccount: string;
  /** ID tokens signed so far (metadata server and IAM together). */
  idTokensMinted(): number;
  /** Lifetime of ID tokens signed from now on, in whole seconds (3600 by default). */
  setTokenLifetime(seconds: number): void;
  /**
   * Makes a service private (only `invokers` hold roles/run.invoker; tokens must be for its URL or
   * one of `audiences`), or public again with null. Requests are refused 401/403 in front of every revision.
   */
  setAccess(service: string, access: ServiceAccess | null): void;
  /** Grants `principal` roles/iam.serviceAccountTokenCreator on `target`. */
  allowImpersonation(target: string, principal: string): void;
}

/** A running emulator. Every method throws PlaygroundError/UsageError naming what was wrong. */
export interface Playground {
  readonly project: string;
  readonly region: string;
  /** The gRPC endpoint; give it to emulatorClientOptions(). */
  readonly endpoint: EmulatorEndpoint;
  /** Base URL of the HTTP control API. */
  readonly controlUrl: string;
  /** The Cloud Storage emulator; give it to storageEmulatorOptions(). */
  readonly storage: StorageEmulator;
  readonly identity: PlaygroundIdentity;
  /** Names of the emulated services. */
  services(): string[];
  /** projects/P/locations/L/services/S */
  serviceName(service: string): string;
  /** The service URL: routes each request by the traffic split. */
  serviceUrl(service: string): string;
  /** The URL of a traffic tag, if the service has that tag. */
  tagUrl(service: string, tag: string): string | undefined;
  /** Revisions of a service, newest first. */
  revisions(service: string): RevisionView[];
  /**
   * Deploys a new revision (creating the service if needed) and returns its short name. Like
   * `gcloud run deploy`: it takes 100 % through LATEST, unless `noTraffic` (then only `tag` reaches it).
   */
  deploy(
    service: string,
    options?: { behaviour?: BehaviourInput; noTraffic?: boolean; tag?: string },
  ): Promise<string>;
  /** Changes what a revision (short or full name) does from its next request on. */
  setBehaviour(revision: string, behaviour: BehaviourInput): void;
  /** What the service serves now. */
  traffic(service: string): ServedTraffic[];
  /** Sets the traffic at once (as an operator would outside the watched API; no operation). */
  setTraffic(service: string, targets: TrafficTarget[]): Promise<void>;
  /** Sends simulated users to the service URL (or a tag URL) and reports what they got. */
  driveTraffic(service: string, options: DriveOptions & { tag?: string }): Promise<DriveSummary>;
  /** Makes the next calls of a gRPC method (short name, e.g. UpdateService) fail or wait. */
  injectFault(method: string, fault: Fault): void;
  clearFaults(method?: string): void;
  /** Pending injected faults: calls still affected, per method. */
  pendingFaults(): Record<string, number>;
  /** Calls the emulated Google APIs received since start, per gRPC method (GetService, ListServices...). */
  apiCalls(): Record<string, number>;
  /** A mark for apiCallsSince: the number of API calls so far. */
  apiCallMark(): number;
  /** The API methods called since `mark`, in order (the last 10,000 calls are kept). */
  apiCallsSince(mark: number): string[];
  /** Requests the revisions really served, per revision and status code. */
  servedRequests(filter?: { service?: string; revision?: string }): ServedCount[];
  /**
   * Every UpdateService the emulator accepted (of one service, or all), oldest first: when it
   * arrived on this process's monotonic clock (`at`, performance.now) and its wall clock (`wallAt`).
   */
  trafficUpdates(service?: string): Array<{ service: string; at: number; wallAt: number }>;
  /** Stops every listener; idempotent. */
  stop(): Promise<void>;
}
