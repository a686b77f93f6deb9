import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The emulator speaks exactly the protos the client libraries ship (their `build/protos/protos.json`),
 * so a field the clients send or expect can never drift from what the emulator knows.
 */
const require = createRequire(import.meta.url);

/** How messages look inside the emulator: camelCase fields, enums by name, int64 as strings. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

export interface LoadedProtos {
  /** Service definitions to register on a grpc.Server. */
  services: {
    runServices: grpc.ServiceDefinition;
    runRevisions: grpc.ServiceDefinition;
    operations: grpc.ServiceDefinition;
    metrics: grpc.ServiceDefinition;
  };
  /** Encodes a message as the `value` of a google.protobuf.Any. */
  encodeService(service: object): Buffer;
}

let cached: LoadedProtos | undefined;

/** Loads (once per process) the Cloud Run v2 and Monitoring v3 protos from the installed packages. */
export function loadProtos(): LoadedProtos {
  if (cached) return cached;
  const run = protoLoader.fromJSON(readProtosJson('@google-cloud/run'), LOADER_OPTIONS);
  const monitoring = protoLoader.fromJSON(readProtosJson('@google-cloud/monitoring'), LOADER_OPTIONS);
  const runServices = serviceOf(run, 'google.cloud.run.v2.Services');
  // The Any in an Operation carries a Service: reuse the serializer grpc already built for GetService.
  const serializeService = runServices.GetService?.responseSerialize;
  if (!serializeService) throw new Error('the Cloud Run protos have no Services.GetService method');
  cached = {
    services: {
      runServices,
      runRevisions: serviceOf(run, 'google.cloud.run.v2.Revisions'),
      operations: serviceOf(run, 'google.longrunning.Operations'),
      metrics: serviceOf(monitoring, 'google.monitoring.v3.MetricService'),
    },
    encodeService: (service) => serializeService(service),
  };
  return cached;
}

function readProtosJson(packageName: string): object {
  // Resolved through the package (it has no exports map), so hoisting or nesting both work.
  return require(`${packageName}/build/protos/protos.json`) as object;
}

function serviceOf(definition: protoLoader.PackageDefinition, name: string): grpc.ServiceDefinition {
  const service = definition[name];
  // A message type has a `format`; a service is a plain map of method definitions.
  if (!service || 'format' in service) {
    throw new Error(`the shipped protos have no service ${name}`);
  }
  return service as unknown as grpc.ServiceDefinition;
}
