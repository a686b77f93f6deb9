import { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { HttpError, type HttpResponse, json, type Route } from '../http/router.js';
import { HttpServer } from '../http/server.js';
import type { Logger } from '../telemetry/logger.js';
import { behaviourInputSchema } from './behaviour.js';
import { FAULT_CODES } from './faults.js';
import type { Playground } from './playground-types.js';
import { PlaygroundError } from './playground-error.js';
import { StorageApiError } from './storage-api-error.js';
import { STORAGE_FAULT_STATUSES, STORAGE_OPERATIONS } from './storage-faults.js';

const deployBody = z.strictObject({
  service: z.string().min(1),
  behaviour: behaviourInputSchema.optional(),
  noTraffic: z.boolean().optional(),
  tag: z.string().optional(),
});
const behaviourBody = z.strictObject({ revision: z.string().min(1), behaviour: behaviourInputSchema });
const trafficBody = z.strictObject({
  service: z.string().min(1),
  traffic: z
    .array(
      z.strictObject({
        revision: z.string().optional(),
        latest: z.boolean().optional(),
        percent: z.number(),
        tag: z.string().optional(),
      }),
    )
    .min(1),
});
const faultBody = z.strictObject({
  method: z.string().min(1),
  code: z.enum(FAULT_CODES).optional(),
  delayMs: z.number().min(0).optional(),
  times: z.number().int().min(1).optional(),
  message: z.string().optional(),
});
const clearBody = z.strictObject({ method: z.string().optional() });
const bucketBody = z.strictObject({ name: z.string().min(1) });
const storageFaultBody = z.strictObject({
  operation: z.enum([...STORAGE_OPERATIONS, '*']),
  bucket: z.string().min(1).optional(),
  object: z.string().min(1).optional(),
  status: z
    .number()
    .int()
    .refine((status) => (STORAGE_FAULT_STATUSES as readonly number[]).includes(status), {
      message: `one of ${STORAGE_FAULT_STATUSES.join(', ')}`,
    })
    .optional(),
  drop: z.boolean().optional(),
  afterBytes: z.number().int().min(0).optional(),
  delayMs: z.number().min(0).optional(),
  times: z.number().int().min(1).optional(),
  message: z.string().optional(),
});
const slowBody = z.strictObject({ bucket: z.string().min(1), delayMs: z.number().min(0).max(600_000) });
const corruptBody = z.strictObject({
  bucket: z.string().min(1),
  object: z.string().min(1),
  offset: z.number().int().min(0).optional(),
});
const driveBody = z.strictObject({
  service: z.string().min(1),
  rps: z.number().positive().max(5_000),
  durationMs: z.number().int().min(0).max(3_600_000),
  path: z.string().startsWith('/').optional(),
  tag: z.string().optional(),
});

/**
 * The playground's HTTP control API (JSON, loopback only): what a test or the demo does to the
 * emulated world that Cloud Run's own API has no call for. Every route is a thin adapter over the
 * in-process Playground. Errors: 400 bad input, 404 unknown service/revision, 409 conflict.
 *
 *   GET  /state                       services, revisions, traffic, pending faults
 *   GET  /served?service=&revision=   requests served per revision and status code
 *   POST /deploy    {service, behaviour?, noTraffic?, tag?}      -> {revision}
 *   POST /behaviour {revision, behaviour}
 *   POST /traffic   {service, traffic: [{revision | latest: true, percent, tag?}]}
 *   POST /faults    {method, code?, delayMs?, times?, message?}
 *   POST /faults/clear {method?}
 *   POST /drive     {service, rps, durationMs, path?, tag?}      -> summary, when all are answered
 *
 * Cloud Storage (the JSON API itself is served at `storage.url`):
 *   GET  /storage                     buckets, their objects, pending storage faults, slow buckets
 *   POST /storage/buckets  {name}
 *   POST /storage/faults   {operation, bucket?, object?, status? | drop?, afterBytes?, delayMs?, times?, message?}
 *   POST /storage/faults/clear {}     also ends every slow bucket
 *   POST /storage/slow     {bucket, delayMs}                      (0 ends it)
 *   POST /storage/corrupt  {bucket, object, offset?}              -> {offset}
 */
export async function startControlApi(
  playground: Playground,
  options: { host: string; port: number; logger: Logger },
): Promise<{ url: string; close: () => Promise<void> }> {
  const routes: Route[] = [
    { method: 'GET', path: '/state', handler: () => json(200, describe(playground)) },
    {
      method: 'GET',
      path: '/served',
      handler: ({ url }) =>
        json(
          200,
          playground.servedRequests({
            ...(url.searchParams.get('service') ? { service: url.searchParams.get('service')! } : {}),
            ...(url.searchParams.get('revision') ? { revision: url.searchParams.get('revision')! } : {}),
          }),
        ),
    },
    post('/deploy', deployBody, async ({ service, ...options }) => ({
      revision: await playground.deploy(service, options),
    })),
    post('/behaviour', behaviourBody, async ({ revision, behaviour }) => {
      playground.setBehaviour(revision, behaviour);
      return { ok: true };
    }),
    post('/traffic', trafficBody, async ({ service, traffic }) => {
      await playground.setTraffic(
        service,
        traffic.map((target) => ({
          type: target.latest ? 'LATEST' : 'REVISION',
          percent: target.percent,
          ...(target.revision ? { revision: target.revision } : {}),
          ...(target.tag ? { tag: target.tag } : {}),
        })),
      );
      return { traffic: playground.traffic(service) };
    }),
    post('/faults', faultBody, async ({ method, ...fault }) => {
      playground.injectFault(method, fault);
      return { pending: playground.pendingFaults() };
    }),
    post('/faults/clear', clearBody, async ({ method }) => {
      playground.clearFaults(method);
      return { pending: playground.pendingFaults() };
    }),
    post('/drive', driveBody, async ({ service, ...options }) => playground.driveTraffic(service, options)),
    { method: 'GET', path: '/storage', handler: () => json(200, describeStorage(playground)) },
    post('/storage/buckets', bucketBody, async ({ name }) => {
      playground.storage.createBucket(name);
      return { buckets: playground.storage.buckets() };
    }),
    post('/storage/faults', storageFaultBody, async (fault) => {
      playground.storage.injectFault(fault as Parameters<Playground['storage']['injectFault']>[0]);
      return playground.storage.pendingFaults();
    }),
    post('/storage/faults/clear', z.strictObject({}), async () => {
      playground.storage.clearFaults();
      return playground.storage.pendingFaults();
    }),
    post('/storage/slow', slowBody, async ({ bucket, delayMs }) => {
      playground.storage.slowBucket(bucket, delayMs);
      return playground.storage.pendingFaults();
    }),
    post('/storage/corrupt', corruptBody, async ({ bucket, object, offset }) => ({
      offset: playground.storage.corrupt(bucket, object, offset),
    })),
  ];
  const server = new HttpServer({
    address: `${options.host}:${options.port}`,
    bodyLimitBytes: 64 * 1024,
    requestTimeoutMs: 60_000,
    routes: routes.map((route) => ({ ...route, handler: guarded(route.handler) })),
    logger: options.logger,
  });
  const address = await server.listen();
  return { url: `http://${address}`, close: () => server.close() };
}

/** Everything the playground emulates, as one JSON document (also what the CLI prints). */
export function describe(playground: Playground): object {
  return {
    project: playground.project,
    region: playground.region,
    grpcEndpoint: `${playground.endpoint.host}:${playground.endpoint.port}`,
    controlUrl: playground.controlUrl,
    services: playground.services().map((service) => ({
      name: service,
      resourceName: playground.serviceName(service),
      url: playground.serviceUrl(service),
      traffic: playground.traffic(service),
      revisions: playground.revisions(service),
    })),
    faults: playground.pendingFaults(),
    storage: { url: playground.storage.url, buckets: playground.storage.buckets() },
  };
}

/** The Cloud Storage emulator's buckets and objects, and its pending faults. */
export function describeStorage(playground: Playground): object {
  const storage = playground.storage;
  return {
    url: storage.url,
    project: storage.project,
    buckets: storage.buckets().map((name) => ({ name, objects: storage.objects(name) })),
    ...storage.pendingFaults(),
  };
}

function post<T>(path: string, schema: z.ZodType<T>, run: (body: T) => Promise<unknown>): Route {
  return {
    method: 'POST',
    path,
    handler: async ({ readBody }) => {
      let raw: unknown;
      try {
        raw = JSON.parse((await readBody()).toString('utf8') || '{}');
      } catch {
        throw new HttpError(400, 'body is not JSON');
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const problems = parsed.error.issues.map(
          (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`,
        );
        return json(400, { error: { code: 'RW_USAGE', message: problems.join('; ') } });
      }
      return json(200, await run(parsed.data));
    },
  };
}

const HTTP_STATUS: Record<PlaygroundError['status'], number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ABORTED: 409,
  FAILED_PRECONDITION: 409,
};

function guarded(handler: Route['handler']): Route['handler'] {
  return async (context): Promise<HttpResponse> => {
    try {
      return await handler(context);
    } catch (error) {
      if (error instanceof PlaygroundError) {
        return json(HTTP_STATUS[error.status], { error: { code: error.code, message: error.message } });
      }
      if (error instanceof UsageError)
        return json(400, { error: { code: error.code, message: error.message } });
      if (error instanceof StorageApiError)
        return json(error.status, { error: { code: error.code, message: error.message } });
      throw error;
    }
  };
}
