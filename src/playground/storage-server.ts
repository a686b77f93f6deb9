import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { badRequest, reasonFor, StorageApiError } from './storage-api-error.js';
import type { StorageBuckets } from './storage-buckets.js';
import { sendMedia } from './storage-download.js';
import type { StorageFault, StorageFaults, StorageOperation } from './storage-faults.js';
import { checkPreconditions, parsePreconditions } from './storage-preconditions.js';
import { bucketResource, customMetadata, objectResource } from './storage-resource.js';
import { StorageUploads } from './storage-uploads.js';

export interface StorageServerOptions {
  host: string;
  port: number;
  project: string;
  buckets: StorageBuckets;
  uploads: StorageUploads;
  faults: StorageFaults;
  logger: Logger;
  /** This server is the door of that name onto the same buckets (faults may target it). */
  door?: string;
}

/** What a route answers when it does not stream: a status, headers, and a JSON body (or none). */
interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: object;
}

/** One request resolved to an operation of the JSON API, before any fault is played. */
interface Route {
  operation: StorageOperation;
  bucket: string;
  object?: string | undefined;
  /** Runs the operation; undefined when it answered (or dropped) the request itself. */
  run(fault: StorageFault | undefined): Promise<Reply | undefined>;
}

const LIST_UNSUPPORTED = ['matchGlob', 'startOffset', 'endOffset', 'includeTrailingDelimiter'];

/** Serves Cloud Storage's JSON API (the part listed in storage-emulator.ts) over node:http. */
export async function startStorageServer(
  options: StorageServerOptions,
): Promise<{ url: string; close: () => Promise<void> }> {
  let baseUrl = '';
  const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    void handle(req, res, baseUrl, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  baseUrl = `http://${options.host}:${(server.address() as AddressInfo).port}`;
  return {
    url: baseUrl,
    close: async () => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  baseUrl: string,
  options: StorageServerOptions,
) {
  try {
    const url = new URL(req.url ?? '/', baseUrl);
    const route = resolveRoute(req, res, url, baseUrl, options);
    const fault = options.faults.take(route.operation, route.bucket, route.object, options.door);
    const delay = options.faults.latency(route.bucket) + (fault?.delayMs ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    if (fault && fault.afterBytes === undefined) {
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined) {
        const message = fault.message ?? `injected fault: ${fault.status} on ${route.operation}`;
        throw new StorageApiError(fault.status, reasonFor(fault.status), message);
      }
    }
    const reply = await route.run(fault?.afterBytes === undefined ? undefined : fault);
    if (reply) await send(req, res, reply);
  } catch (error) {
    if (res.headersSent || req.socket.destroyed) return;
    if (error instanceof StorageApiError) {
      await send(
        req,
        res,
        error.status === 304 ? { status: 304 } : { status: error.status, json: error.body() },
      );
      return;
    }
    options.logger.error({ err: errorMessage(error), url: req.url }, 'storage emulator request failed');
    await send(req, res, {
      status: 500,
      json: new StorageApiError(500, 'backendError', errorMessage(error)).body(),
    });
  }
}

// Answers only once the request body is fully read (or discarded), so the client sees the status
// instead of a connection reset while it is still sending.
async function send(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  if (!req.complete && !req.destroyed) {
    req.resume();
    await new Promise<void>((resolve) => {
      req.once('end', resolve);
      req.once('close', resolve);
    });
  }
  if (res.destroyed) return;
  const body = reply.json ? `${JSON.stringify(reply.json)}\n` : '';
  res.writeHead(reply.status, {
    ...(reply.json ? { 'content-type': 'application/json; charset=UTF-8' } : {}),
    'content-length': Buffer.byteLength(body),
    ...reply.headers,
  });
  res.end(body);
}

function resolveRoute(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  baseUrl: string,
  { buckets, uploads, project }: StorageServerOptions,
): Route {
  const parts = url.pathname.split('/').slice(1);
  const method = req.method ?? 'GET';
  const ok = (json: object): Reply => ({ status: 200, json });
  const objectJson = (object: Parameters<typeof objectResource>[0]) => ok(objectResource(object, baseUrl));
  const generation = () => optionalInt(url.searchParams, 'generation');

  if (
    parts[0] === 'upload' &&
    parts[1] === 'storage' &&
    parts[2] === 'v1' &&
    parts[3] === 'b' &&
    parts[5] === 'o'
  ) {
    const bucket = decode(parts[4]);
    const object = StorageUploads.objectName(url);
    const upload = (reply: Awaited<ReturnType<StorageUploads['put']>>): Reply | undefined => {
      if (reply.kind === 'object') return objectJson(reply.object);
      if (reply.kind === 'incomplete')
        return {
          status: 308,
          headers: reply.persisted > 0 ? { range: `bytes=0-${reply.persisted - 1}` } : {},
        };
      if (reply.kind === 'cancelled') return { status: 499 };
      return undefined;
    };
    if (method === 'POST' && url.searchParams.get('uploadType') === 'resumable') {
      return {
        operation: 'objects.insert',
        bucket,
        object,
        run: async (fault) => {
          const location = await uploads.start({ req, url, bucket, fault }, baseUrl);
          return location === undefined ? undefined : { status: 200, headers: { location } };
        },
      };
    }
    if (method === 'POST') {
      return {
        operation: 'objects.insert',
        bucket,
        object,
        run: async (fault) => upload(await uploads.single({ req, url, bucket, fault })),
      };
    }
    if (method === 'PUT' && StorageUploads.isSession(url)) {
      const status = /^bytes \*\//.test(String(req.headers['content-range'] ?? ''));
      return {
        operation: status ? 'objects.status' : 'objects.upload',
        bucket,
        object,
        run: async (fault) => upload(await uploads.put({ req, url, bucket, fault })),
      };
    }
    if (method === 'DELETE' && StorageUploads.isSession(url)) {
      return {
        operation: 'objects.upload',
        bucket,
        object,
        run: async () => upload(await uploads.cancel(url)),
      };
    }
  }

  const download = parts[0] === 'download';
  const api = download ? parts.slice(1) : parts;
  if (api[0] !== 'storage' || api[1] !== 'v1' || api[2] !== 'b') throw notImplemented(method, url);
  const bucket = api.length > 3 ? decode(api[3]) : '';

  if (api.length === 3 && method === 'GET' && !download) {
    return {
      operation: 'buckets.list',
      bucket,
      run: async () =>
        ok({
          kind: 'storage#buckets',
          items: buckets.bucketNames().map((name) => bucketResource(name, project, baseUrl)),
        }),
    };
  }
  if (api.length === 3 && method === 'POST' && !download) {
    return {
      operation: 'buckets.insert',
      bucket,
      run: async () => {
        const body = await readJson(req);
        const name = typeof body.name === 'string' ? body.name : '';
        buckets.createBucket(name);
        return ok(bucketResource(name, project, baseUrl));
      },
    };
  }
  if (api.length === 4 && method === 'GET' && !download) {
    return {
      operation: 'buckets.get',
      bucket,
      run: async () => {
        buckets.objects(bucket);
        return ok(bucketResource(bucket, project, baseUrl));
      },
    };
  }
  if (api.length === 5 && api[4] === 'o' && method === 'GET' && !download) {
    return {
      operation: 'objects.list',
      bucket,
      run: async () => {
        for (const name of LIST_UNSUPPORTED) {
          if (url.searchParams.has(name))
            throw badRequest(`the playground does not support the list parameter ${name}`);
        }
        if (url.searchParams.get('versions') === 'true')
          throw badRequest('the playground keeps no object versions (versions=true)');
        const maxResults = optionalInt(url.searchParams, 'maxResults');
        const page = buckets.list(bucket, {
          ...(url.searchParams.get('prefix') ? { prefix: url.searchParams.get('prefix')! } : {}),
          ...(url.searchParams.get('delimiter') ? { delimiter: url.searchParams.get('delimiter')! } : {}),
          ...(url.searchParams.get('pageToken') ? { pageToken: url.searchParams.get('pageToken')! } : {}),
          ...(maxResults !== undefined ? { maxResults: Math.min(Math.max(maxResults, 1), 1_000) } : {}),
        });
        return ok({
          kind: 'storage#objects',
          ...(page.items.length
            ? { items: page.items.map((object) => objectResource(object, baseUrl)) }
            : {}),
          ...(page.prefixes.length ? { prefixes: page.prefixes } : {}),
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
        });
      },
    };
  }
  if (api.length >= 6 && api[4] === 'o') {
    const object = decode(api.slice(5).join('/'));
    if (method === 'GET' && (download || url.searchParams.get('alt') === 'media')) {
      return {
        operation: 'objects.download',
        bucket,
        object,
        run: async (fault) => {
          const found = buckets.get(bucket, object, generation());
          checkPreconditions(found, parsePreconditions(url.searchParams), true);
          await sendMedia(req, res, found, fault);
          return undefined;
        },
      };
    }
    if (method === 'GET' && !download) {
      return {
        operation: 'objects.get',
        bucket,
        object,
        run: async () => {
          const found = buckets.get(bucket, object, generation());
          checkPreconditions(found, parsePreconditions(url.searchParams), true);
          return objectJson(found);
        },
      };
    }
    if (method === 'DELETE' && !download) {
      return {
        operation: 'objects.delete',
        bucket,
        object,
        run: async () => {
          buckets.delete(bucket, object, parsePreconditions(url.searchParams), generation());
          return { status: 204 };
        },
      };
    }
    if (method === 'PATCH' && !download) {
      return {
        operation: 'objects.patch',
        bucket,
        object,
        run: async () => {
          const body = await readJson(req);
          let metadata: Record<string, string | null>;
          try {
            metadata = customMetadata(body.metadata, true);
          } catch {
            throw badRequest('metadata must be an object');
          }
          const contentType = typeof body.contentType === 'string' ? body.contentType : undefined;
          const patched = buckets.patch(
            bucket,
            object,
            { metadata, ...(contentType ? { contentType } : {}) },
            parsePreconditions(url.searchParams),
          );
          return objectJson(patched);
        },
      };
    }
  }
  throw notImplemented(method, url);
}

function notImplemented(method: string, url: URL): StorageApiError {
  return new StorageApiError(
    501,
    'notImplemented',
    `the playground's storage emulator does not serve ${method} ${url.pathname}`,
  );
}

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? '');
  } catch {
    throw badRequest(`malformed path segment "${segment}"`);
  }
}

function optionalInt(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw badRequest(`Invalid argument for ${name}: "${raw}"`);
  return Number(raw);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) throw badRequest('request body is larger than 1 MiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw badRequest('request body is not a JSON object');
}
