/**
 * The playground: a local Cloud Run Admin API v2 + Cloud Monitoring v3 emulator that the real
 * `@google-cloud/run` and `@google-cloud/monitoring` clients talk to over gRPC (and a Cloud Storage
 * JSON API for `@google-cloud/storage`, below), with every revision a
 * real HTTP app on loopback and every service URL a real router that follows the traffic split.
 *
 * ```ts
 * const playground = await startPlayground(
 *   { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
 *   { samplePeriodMs: 1_000, ingestionDelayMs: 200 }, // tests: short; defaults are Cloud Run's 60 s / 150 s
 * );
 * const services = new v2.ServicesClient(emulatorClientOptions(playground.endpoint));
 * const metrics = new MetricServiceClient(emulatorClientOptions(playground.endpoint));
 * const candidate = await playground.deploy('shop', { behaviour: 'errors', noTraffic: true, tag: 'canary' });
 * await playground.driveTraffic('shop', { rps: 50, durationMs: 2_000 });
 * playground.injectFault('UpdateService', { code: 'UNAVAILABLE', times: 2 });
 * await playground.stop();
 * ```
 *
 * gRPC (see run-service.ts, monitoring-service.ts): Services.GetService / ListServices /
 * UpdateService (a long-running operation, done on the first GetOperation; a stale etag is ABORTED;
 * only traffic is applied), Revisions.GetRevision / ListRevisions (paged, newest first),
 * Operations.GetOperation, MetricService.ListTimeSeries for run.googleapis.com/request_count and
 * container/cpu|memory/utilizations (paged; filter, interval and aggregation honoured). Anything else
 * answers UNIMPLEMENTED.
 *
 * Cloud Storage (see storage-emulator.ts): a JSON API over HTTP at `playground.storage.url` that the
 * real `@google-cloud/storage` client reaches with `new Storage(storageEmulatorOptions(playground.storage))`.
 *
 * With the real run client, `(await operation.promise())[0]` is a decoded protobufjs message whose
 * enums are numbers, unlike getService's strings (that is gax, not the emulator): compare through
 * `protos.google.cloud.run.v2.Service.toObject(result, { enums: String })`.
 *
 * Names: `deploy` returns, and traffic uses, short revision names (`shop-00002-abc`), as Cloud Run's
 * traffic targets do; resource names are `projects/P/locations/L/services/S/revisions/R`.
 * Behaviours: presets `healthy`, `failing-health`, `errors`, `unavailable`, `slow`, `hot`, or an
 * object (see behaviour.ts). Faults: see faults.ts. HTTP control API: see control-api.ts. Each
 * service URL also answers GET /metrics with `emulated_requests_total{service,revision,code}`.
 */
export type { Behaviour, BehaviourInput, BehaviourPreset } from './behaviour.js';
export { BEHAVIOUR_PRESETS } from './behaviour.js';
export { type EmulatorEndpoint, emulatorClientOptions, storageEmulatorOptions } from './client-options.js';
export { describe as describePlayground, describeStorage } from './control-api.js';
export { EMULATED_METHODS, type EmulatedMethod, FAULT_CODES, type Fault, type FaultCode } from './faults.js';
export {
  type Playground,
  type PlaygroundOptions,
  type RevisionView,
  type ServedTraffic,
  startPlayground,
} from './playground.js';
export { PlaygroundError } from './playground-error.js';
export { REVISION_HEADER } from './revision-app.js';
export { StorageApiError } from './storage-api-error.js';
export type { StorageEmulator, StorageObjectView } from './storage-emulator.js';
export {
  STORAGE_FAULT_STATUSES,
  STORAGE_OPERATIONS,
  type StorageFault,
  type StorageOperation,
} from './storage-faults.js';
export {
  DEFAULT_SCENARIO,
  loadScenarioFile,
  parseScenario,
  type Scenario,
  type ScenarioInput,
} from './scenario.js';
export type { DriveOptions, DriveSummary } from './traffic-driver.js';
export type { TrafficStatus, TrafficTarget } from './traffic-spec.js';
export type { ServedCount } from './world.js';
