import { createLogger, type Logger } from '../telemetry/logger.js';
import { type BehaviourInput, resolveBehaviour } from './behaviour.js';
import type { EmulatorEndpoint } from './client-options.js';
import { startControlApi } from './control-api.js';
import { type Fault, FaultInjector } from './faults.js';
import { startGrpcServer } from './grpc-server.js';
import { monitoringHandlers } from './monitoring-service.js';
import { OperationStore } from './operations.js';
import { notFound } from './playground-error.js';
import { loadProtos } from './protos.js';
import { revisionResourceName, serviceResourceName } from './run-resources.js';
import { runHandlers } from './run-service.js';
import { loadScenarioFile, parseScenario, type Scenario, type ScenarioInput } from './scenario.js';
import { type DriveOptions, type DriveSummary, driveTraffic } from './traffic-driver.js';
import type { TrafficStatus, TrafficTarget } from './traffic-spec.js';
import { type StorageEmulator, startStorageEmulator } from './storage-emulator.js';
import { type ServedCount, World } from './world.js';

export interface PlaygroundOptions {
  /** Loopback address every listener binds; 127.0.0.1 by default. */
  host?: string;
  /** gRPC port; 0 (default) picks a free one. */
  grpcPort?: number;
  /** Control API port; 0 (default) picks a free one. */
  controlPort?: number;
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
  /** Requests the revisions really served, per revision and status code. */
  servedRequests(filter?: { service?: string; revision?: string }): ServedCount[];
  /** Stops every listener; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the emulator: the revision apps and service routers of `scenario` (an object, or the path
 * of a YAML/JSON file), the gRPC server, the Cloud Storage JSON API and the control API, all on loopback.
 */
export async function startPlayground(
  scenario: ScenarioInput | string,
  options: PlaygroundOptions = {},
): Promise<Playground> {
  const valid: Scenario = typeof scenario === 'string' ? loadScenarioFile(scenario) : parseScenario(scenario);
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? createLogger({ level: 'silent', format: 'json' });
  const world = new World({
    project: valid.project,
    region: valid.region,
    host,
    samplePeriodMs: options.samplePeriodMs ?? 60_000,
    clock,
  });
  const faults = new FaultInjector();
  const operations = new OperationStore({
    project: valid.project,
    region: valid.region,
    pollsBeforeDone: options.operationPolls ?? 1,
  });
  const protos = loadProtos();
  const stops: Array<() => Promise<void>> = [() => world.close()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    await buildScenario(world, valid);
    const grpc = await startGrpcServer({
      host,
      port: options.grpcPort ?? 0,
      protos,
      faults,
      logger,
      handlers: {
        ...runHandlers(world, operations, protos),
        ...monitoringHandlers(world, { ingestionDelayMs: options.ingestionDelayMs ?? 150_000, clock }),
      },
    });
    stops.push(grpc.stop);
    const storage = await startStorageEmulator({
      host,
      port: options.storagePort ?? 0,
      project: valid.project,
      buckets: valid.buckets,
      ...(options.storageDir ? { dir: options.storageDir } : {}),
      clock,
      logger,
    });
    stops.push(storage.stop);
    const playground = createPlayground(world, faults, storage, { host, port: grpc.port }, stopAll);
    const control = await startControlApi(playground, { host, port: options.controlPort ?? 0, logger });
    stops.push(control.close);
    (playground as { controlUrl: string }).controlUrl = control.url;
    return playground;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function buildScenario(world: World, scenario: Scenario): Promise<void> {
  for (const service of scenario.services) {
    await world.addService(service.name);
    for (const revision of service.revisions) {
      await world.deploy(service.name, {
        behaviour: resolveBehaviour(revision.behaviour, `${service.name}.revisions.behaviour`),
        ...(revision.name ? { name: revision.name } : {}),
        ...(revision.image ? { image: revision.image } : {}),
      });
    }
    if (service.traffic) {
      await world.setTraffic(
        service.name,
        service.traffic.map((target) => ({
          type: target.latest ? 'LATEST' : 'REVISION',
          percent: target.percent,
          ...(target.revision ? { revision: target.revision } : {}),
          ...(target.tag ? { tag: target.tag } : {}),
        })),
      );
    }
  }
}

function createPlayground(
  world: World,
  faults: FaultInjector,
  storage: StorageEmulator,
  endpoint: EmulatorEndpoint,
  stop: () => Promise<void>,
): Playground {
  return {
    project: world.options.project,
    region: world.options.region,
    endpoint,
    controlUrl: '',
    storage,
    services: () => [...world.services.keys()],
    serviceName: (service) => serviceResourceName(world, world.service(service).name),
    serviceUrl: (service) => world.service(service).router.url,
    tagUrl: (service, tag) => world.service(service).router.tagUrl(tag),
    revisions: (service) =>
      [...world.service(service).revisions].reverse().map((revision) => ({
        name: revision.name,
        resourceName: revisionResourceName(world, revision.service, revision.name),
        url: revision.app.url,
        behaviour: { ...revision.app.behaviour },
      })),
    deploy: async (service, options = {}) => {
      const behaviour = resolveBehaviour(options.behaviour);
      if (!world.services.has(service)) await world.addService(service);
      const revision = await world.deploy(service, {
        behaviour,
        ...(options.noTraffic ? { noTraffic: true } : {}),
        ...(options.tag ? { tag: options.tag } : {}),
      });
      return revision.name;
    },
    setBehaviour: (revision, behaviour) => world.setBehaviour(revision, resolveBehaviour(behaviour)),
    traffic: (service) => {
      const record = world.service(service);
      return record.statuses.map((status) => {
        const uri = status.tag ? record.router.tagUrl(status.tag) : undefined;
        return uri ? { ...status, uri } : { ...status };
      });
    },
    setTraffic: (service, targets) => world.setTraffic(service, targets),
    driveTraffic: async (service, options) => {
      const record = world.service(service);
      const url = options.tag ? record.router.tagUrl(options.tag) : record.router.url;
      if (!url) throw notFound(`service ${service} has no tag ${options.tag}`);
      return driveTraffic(url, options);
    },
    injectFault: (method, fault) => faults.inject(method, fault),
    clearFaults: (method) => faults.clear(method),
    pendingFaults: () => faults.pending(),
    servedRequests: (filter) => world.served(filter),
    stop,
  };
}
