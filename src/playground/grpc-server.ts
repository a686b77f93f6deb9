import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { ApiCallLog } from './api-calls.js';
import type { EmulatedMethod, FaultInjector } from './faults.js';
import { PlaygroundError } from './playground-error.js';
import type { LoadedProtos } from './protos.js';
import type { UnaryHandler } from './run-service.js';

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  protos: LoadedProtos;
  handlers: Record<EmulatedMethod, UnaryHandler>;
  faults: FaultInjector;
  /** Counts every call, before its fault. */
  calls: ApiCallLog;
  logger: Logger;
}

/** A started gRPC server and the port it got. */
export interface StartedGrpcServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * One insecure gRPC server carrying Cloud Run's Services, Revisions and Operations and Monitoring's
 * MetricService. Every call passes through the fault injector first; a PlaygroundError becomes its
 * gRPC status, any other error INTERNAL. Methods not listed answer UNIMPLEMENTED (grpc-js's default).
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<StartedGrpcServer> {
  const server = new grpc.Server();
  const { services } = options.protos;
  const pick = (...methods: EmulatedMethod[]) =>
    Object.fromEntries(methods.map((method) => [method, unary(method, options)]));
  server.addService(services.runServices, pick('GetService', 'ListServices', 'UpdateService'));
  server.addService(services.runRevisions, pick('GetRevision', 'ListRevisions'));
  server.addService(services.operations, pick('GetOperation'));
  server.addService(services.metrics, pick('ListTimeSeries'));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${options.host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        // Calls in flight (a delayed fault, say) must not hold shutdown up: give them a moment only.
        const force = setTimeout(() => server.forceShutdown(), 1_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function unary(method: EmulatedMethod, options: GrpcServerOptions): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    void (async () => {
      try {
        options.calls.record(method);
        const fault = options.faults.take(method);
        if (fault?.delayMs) await delay(fault.delayMs, call);
        if (call.cancelled) return;
        if (fault?.code) {
          callback({
            code: grpc.status[fault.code],
            details: fault.message ?? `injected ${fault.code} for ${method}`,
          });
          return;
        }
        const response = await options.handlers[method](call.request as Record<string, unknown>);
        callback(null, response);
      } catch (error) {
        if (error instanceof PlaygroundError) {
          callback({ code: grpc.status[error.status], details: error.message });
          return;
        }
        options.logger.error({ method, err: errorMessage(error) }, 'emulated call failed');
        callback({ code: grpc.status.INTERNAL, details: errorMessage(error) });
      }
    })();
  };
}

function delay(ms: number, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    call.once('cancelled', done);
    function done() {
      clearTimeout(timer);
      resolve();
    }
  });
}
