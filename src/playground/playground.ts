import { createLogger } from '../telemetry/logger.js';
import { resolveBehaviour } from './behaviour.js';
import type { EmulatorEndpoint } from './client-options.js';
import { startControlApi } from './control-api.js';
import { ApiCallLog } from './api-calls.js';
import { FaultInjector } from './faults.js';
import { startGrpcServer } from './grpc-server.js';
import { monitoringHandlers } from './monitoring-service.js';
import { OperationStore } from './operations.js';
import { notFound } from './playground-error.js';
import { loadProtos } from './protos.js';
import { revisionResourceName, serviceResourceName } from './run-resources.js';
import { runHandlers } from './run-service.js';
import { loadScenarioFile, parseScenario, type Scenario, type ScenarioInput } from './scenario.js';
import { driveTraffic } from './traffic-driver.js';
import { type StorageEmulator, startStorageEmulator } from './storage-emulator.js';
import { World } from './world.js';

import type { Playground, PlaygroundIdentity, PlaygroundOptions } from './playground-types.js';
import { IdentityAuthority } from './identity.js';
import { startIdentityServer } from './identity-server.js';
import { UsageError } from '../core/errors.js';

export type {
  Playground,
  PlaygroundIdentity,
  PlaygroundOptions,
  RevisionView,
  ServedTraffic,
} from './playground-types.js';

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
  const authority = new IdentityAuthority(clock);
  const world = new World({
    project: valid.project,
    region: valid.region,
    host,
    samplePeriodMs: options.samplePeriodMs ?? 60_000,
    clock,
    authority,
  });
  const faults = new FaultInjector();
  const calls = new ApiCallLog();
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
      calls,
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
    const serviceAccount = `runwarden@${valid.project}.iam.gserviceaccount.com`;
    const tokenCreators = new Map<string, Set<string>>();
    const identityServer = await startIdentityServer({
      host,
      port: options.identityPort ?? 0,
      project: valid.project,
      authority,
      serviceAccount,
      tokenCreators,
    });
    stops.push(identityServer.close);
    const identity: PlaygroundIdentity = {
      metadataHost: identityServer.metadataHost,
      iamEndpoint: identityServer.iamEndpoint,
      serviceAccount,
      idTokensMinted: () => authority.minted,
      setTokenLifetime: (seconds) => {
        if (!Number.isInteger(seconds) || seconds < 1)
          throw new UsageError(
            `token lifetime must be a whole number of seconds, at least 1, got ${seconds}`,
          );
        authority.tokenLifetimeSec = seconds;
      },
      setAccess: (service, access) => {
        world.service(service).access = access && {
          invokers: [...access.invokers],
          audiences: [...(access.audiences ?? [])],
        };
      },
      allowImpersonation: (target, principal) => {
        const creators = tokenCreators.get(target) ?? new Set<string>();
        creators.add(principal);
        tokenCreators.set(target, creators);
      },
    };
    const playground = createPlayground(
      world,
      faults,
      calls,
      storage,
      identity,
      { host, port: grpc.port },
      stopAll,
    );
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
  calls: ApiCallLog,
  storage: StorageEmulator,
  identity: PlaygroundIdentity,
  endpoint: EmulatorEndpoint,
  stop: () => Promise<void>,
): Playground {
  return {
    identity,
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
    apiCalls: () => calls.counts(),
    apiCallMark: () => calls.total(),
    apiCallsSince: (mark) => calls.since(mark),
    servedRequests: (filter) => world.served(filter),
    trafficUpdates: (service) =>
      world.trafficUpdates.filter((update) => service === undefined || update.service === service),
    stop,
  };
}
