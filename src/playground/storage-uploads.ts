import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { badRequest, reasonFor, StorageApiError } from './storage-api-error.js';
import { type BodyOutcome, MultipartReader, receiveBody } from './storage-body.js';
import type { StorageBuckets, StoredObject } from './storage-buckets.js';
import type { StorageFault } from './storage-faults.js';
import { type Crc32cFactory, type ObjectHashes, parseGoogHash } from './storage-hash.js';
import { parsePreconditions, type Preconditions } from './storage-preconditions.js';
import { customMetadata } from './storage-resource.js';
import { StagedFile } from './storage-staged-file.js';

/** What an upload request answers: the stored object, a 308 with the persisted range, or nothing (dropped). */
export type UploadReply =
  | { kind: 'object'; object: StoredObject }
  | { kind: 'incomplete'; persisted: number }
  | { kind: 'cancelled' }
  | { kind: 'none' };

/** One request of an upload, with the fault it drew (if any) still to be played out. */
export interface UploadRequest {
  req: IncomingMessage;
  url: URL;
  bucket: string;
  fault?: StorageFault | undefined;
}

interface Session {
  bucket: string;
  name: string;
  pre: Preconditions;
  contentType: string;
  storageClass: string;
  metadata: Record<string, string>;
  declared: Partial<ObjectHashes>;
  staged: StagedFile;
  result?: StoredObject;
  failure?: StorageApiError;
  /** Requests of one session run one after the other. */
  queue: Promise<unknown>;
}

/**
 * The upload side of the JSON API: simple (`uploadType=media`) and multipart uploads in one request,
 * and resumable uploads (a session URI, then PUTs of chunks with `Content-Range`, answered 308 with
 * the persisted `Range` until the last byte, and the status query `Content-Range: bytes *\/N`).
 * Preconditions are checked when the object is finalized, as Cloud Storage does; hashes the client
 * declares (`X-Goog-Hash`, or crc32c/md5Hash in the metadata) must match the stored bytes (400).
 */
export class StorageUploads {
  readonly #buckets: StorageBuckets;
  readonly #crc32c: Crc32cFactory;
  readonly #sessions = new Map<string, Session>();

  constructor(buckets: StorageBuckets, crc32c: Crc32cFactory) {
    this.#buckets = buckets;
    this.#crc32c = crc32c;
  }

  /** Object name a request targets (for fault matching), when the query says it. */
  static objectName(url: URL): string | undefined {
    return url.searchParams.get('name') ?? undefined;
  }

  /** POST /upload/storage/v1/b/{bucket}/o?uploadType=media|multipart: the whole object in one request. */
  async single(request: UploadRequest): Promise<UploadReply> {
    const { req, url, bucket } = request;
    this.#requireBucket(bucket);
    const pre = parsePreconditions(url.searchParams);
    const staged = await StagedFile.create(this.#buckets.stagingPath(), this.#crc32c);
    try {
      let metadata: Record<string, unknown> = {};
      let contentType = req.headers['content-type'];
      let outcome: BodyOutcome;
      if (url.searchParams.get('uploadType') === 'multipart') {
        const reader = new MultipartReader(MultipartReader.boundaryOf(req.headers['content-type']), (chunk) =>
          staged.append(chunk),
        );
        outcome = await this.#receive(request, (chunk) => reader.write(chunk));
        if (outcome === 'ended') await reader.end();
        metadata = reader.metadata;
        contentType = stringField(metadata, 'contentType') ?? reader.mediaType;
      } else {
        outcome = await this.#receive(request, (chunk) => staged.append(chunk));
      }
      if (outcome !== 'ended') {
        await staged.discard();
        return { kind: 'none' };
      }
      const name = url.searchParams.get('name') ?? stringField(metadata, 'name');
      if (!name) throw badRequest('Required parameter: name');
      const hashes = await staged.finish();
      checkDeclaredHashes(hashes, {
        ...declaredHashes(metadata),
        ...parseGoogHash(header(req, 'x-goog-hash')),
      });
      const object = this.#buckets.commit(
        {
          bucket,
          name,
          file: staged.path,
          size: staged.size,
          ...hashes,
          contentType: contentType ?? 'application/octet-stream',
          storageClass: storageClassOf(metadata),
          metadata: stringsOnly(metadata.metadata),
        },
        pre,
      );
      return { kind: 'object', object };
    } catch (error) {
      await staged.discard();
      throw error;
    }
  }

  /**
   * POST ...?uploadType=resumable: opens a session and returns its URI (the caller sends it as
   * Location); undefined when the request was dropped.
   */
  async start(request: UploadRequest, baseUrl: string): Promise<string | undefined> {
    const { req, url, bucket } = request;
    this.#requireBucket(bucket);
    const chunks: Buffer[] = [];
    let size = 0;
    const outcome = await this.#receive(request, async (chunk) => {
      size += chunk.length;
      if (size > 1024 * 1024) throw badRequest('resumable upload metadata is larger than 1 MiB');
      chunks.push(chunk);
    });
    if (outcome !== 'ended') return undefined;
    let metadata: Record<string, unknown> = {};
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text) {
      try {
        metadata = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw badRequest('resumable upload metadata is not JSON');
      }
    }
    const name = url.searchParams.get('name') ?? stringField(metadata, 'name');
    if (!name) throw badRequest('Required parameter: name');
    const id = randomUUID();
    this.#sessions.set(id, {
      bucket,
      name,
      pre: parsePreconditions(url.searchParams),
      contentType:
        stringField(metadata, 'contentType') ??
        header(req, 'x-upload-content-type') ??
        'application/octet-stream',
      storageClass: storageClassOf(metadata),
      metadata: stringsOnly(metadata.metadata),
      declared: declaredHashes(metadata),
      staged: await StagedFile.create(this.#buckets.stagingPath(), this.#crc32c),
      queue: Promise.resolve(),
    });
    const query = new URLSearchParams({ uploadType: 'resumable', name, upload_id: id });
    return `${baseUrl}/upload/storage/v1/b/${bucket}/o?${query}`;
  }

  /** PUT on a session URI: a chunk, the last chunk, or a status query. */
  put(request: UploadRequest): Promise<UploadReply> {
    const session = this.#session(request.url);
    const run = session.queue.then(() => this.#put(session, request));
    session.queue = run.catch(() => undefined);
    return run;
  }

  /** DELETE on a session URI: cancels it (Cloud Storage answers 499). */
  async cancel(url: URL): Promise<UploadReply> {
    const id = url.searchParams.get('upload_id') ?? '';
    const session = this.#session(url);
    this.#sessions.delete(id);
    if (!session.result) await session.staged.discard();
    return { kind: 'cancelled' };
  }

  /** Whether a request belongs to a resumable session (it names an upload_id). */
  static isSession(url: URL): boolean {
    return url.searchParams.has('upload_id');
  }

  /** Discards every open session's bytes. */
  async close(): Promise<void> {
    for (const session of this.#sessions.values()) if (!session.result) await session.staged.discard();
    this.#sessions.clear();
  }

  async #put(session: Session, request: UploadRequest): Promise<UploadReply> {
    const { req } = request;
    const range = parseContentRange(header(req, 'content-range'));
    if (session.failure) {
      req.resume();
      throw session.failure;
    }
    if (session.result) {
      req.resume();
      return { kind: 'object', object: session.result };
    }
    const staged = session.staged;
    if (range.kind === 'status') {
      req.resume();
      if (range.total !== undefined && range.total === staged.size) return this.#finalize(session, req);
      if (range.total !== undefined && range.total < staged.size) {
        throw badRequest(`upload declares ${range.total} bytes but ${staged.size} are already persisted`);
      }
      return { kind: 'incomplete', persisted: staged.size };
    }
    if (range.start > staged.size) {
      req.resume();
      throw badRequest(
        `upload offset ${range.start} is past the ${staged.size} bytes persisted; query the status and resume from there`,
      );
    }
    // A client resending bytes the session already has: skip them, keep the rest.
    let skip = staged.size - range.start;
    const outcome = await this.#receive(request, async (chunk) => {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        return;
      }
      await staged.append(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    });
    if (outcome !== 'ended') return { kind: 'none' };
    const last = range.total === undefined ? range.streamsRest : staged.size >= range.total;
    if (range.total !== undefined && staged.size > range.total) {
      throw badRequest(`upload declares ${range.total} bytes but ${staged.size} were sent`);
    }
    if (!last) return { kind: 'incomplete', persisted: staged.size };
    return this.#finalize(session, req);
  }

  async #finalize(session: Session, req: IncomingMessage): Promise<UploadReply> {
    try {
      const hashes = await session.staged.finish();
      checkDeclaredHashes(hashes, { ...session.declared, ...parseGoogHash(header(req, 'x-goog-hash')) });
      session.result = this.#buckets.commit(
        {
          bucket: session.bucket,
          name: session.name,
          file: session.staged.path,
          size: session.staged.size,
          ...hashes,
          contentType: session.contentType,
          storageClass: session.storageClass,
          metadata: session.metadata,
        },
        session.pre,
      );
      return { kind: 'object', object: session.result };
    } catch (error) {
      // A refused finalization ends the session: Cloud Storage keeps no partial object.
      if (error instanceof StorageApiError) session.failure = error;
      await session.staged.discard();
      throw error;
    }
  }

  // Reads the body under the request's fault: `afterBytes` moves that many bytes first, then the
  // fault's status is raised (the bytes stay persisted) or the connection is dropped.
  async #receive(request: UploadRequest, sink: (chunk: Buffer) => Promise<void>): Promise<BodyOutcome> {
    const fault = request.fault;
    const stop =
      fault?.afterBytes !== undefined
        ? { afterBytes: fault.afterBytes, drop: fault.drop === true }
        : undefined;
    const outcome = await receiveBody(request.req, sink, stop);
    if (outcome === 'stopped' && fault?.status !== undefined) {
      throw new StorageApiError(
        fault.status,
        reasonFor(fault.status),
        fault.message ?? `injected fault: ${fault.status} after ${fault.afterBytes} bytes`,
      );
    }
    return outcome;
  }

  #session(url: URL): Session {
    const id = url.searchParams.get('upload_id') ?? '';
    const session = this.#sessions.get(id);
    if (!session) throw new StorageApiError(404, 'notFound', `No such upload session: ${id}`);
    return session;
  }

  #requireBucket(bucket: string): void {
    this.#buckets.objects(bucket);
  }
}

type ContentRange =
  | { kind: 'status'; total?: number }
  | { kind: 'bytes'; start: number; total?: number; streamsRest: boolean };

/**
 * `bytes *\/N` or `bytes *\/*`: a status query (N: the client says the object has N bytes).
 * `bytes S-E/N`, `bytes S-E/*`, `bytes S-*\/N`, `bytes S-*\/*`: bytes from S; `E = *` means this
 * request carries everything that is left. No header: the whole object in this one request.
 */
function parseContentRange(value: string | undefined): ContentRange {
  if (value === undefined) return { kind: 'bytes', start: 0, streamsRest: true };
  const status = /^bytes \*\/(\*|\d+)$/.exec(value.trim());
  if (status) return status[1] === '*' ? { kind: 'status' } : { kind: 'status', total: Number(status[1]) };
  const bytes = /^bytes (\d+)-(\*|\d+)\/(\*|\d+)$/.exec(value.trim());
  if (!bytes) throw badRequest(`Invalid Content-Range: "${value}"`);
  const start = Number(bytes[1]);
  if (bytes[2] !== '*' && Number(bytes[2]) < start) throw badRequest(`Invalid Content-Range: "${value}"`);
  return {
    kind: 'bytes',
    start,
    streamsRest: bytes[2] === '*',
    ...(bytes[3] === '*' ? {} : { total: Number(bytes[3]) }),
  };
}

function checkDeclaredHashes(actual: ObjectHashes, declared: Partial<ObjectHashes>): void {
  if (declared.crc32c !== undefined && declared.crc32c !== actual.crc32c) {
    throw badRequest(
      `Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`,
    );
  }
  if (declared.md5Hash !== undefined && declared.md5Hash !== actual.md5Hash) {
    throw badRequest(
      `Provided MD5 hash "${declared.md5Hash}" doesn't match calculated MD5 hash "${actual.md5Hash}".`,
    );
  }
}

const STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'];

/** The storage class an upload asks for (the bucket's default, STANDARD, when none); 400 for an unknown one. */
function storageClassOf(metadata: Record<string, unknown>): string {
  const asked = stringField(metadata, 'storageClass');
  if (asked === undefined) return 'STANDARD';
  if (!STORAGE_CLASSES.includes(asked)) throw badRequest(`Invalid storage class: ${asked}`);
  return asked;
}

function declaredHashes(metadata: Record<string, unknown>): Partial<ObjectHashes> {
  const crc32c = stringField(metadata, 'crc32c');
  const md5Hash = stringField(metadata, 'md5Hash');
  return { ...(crc32c ? { crc32c } : {}), ...(md5Hash ? { md5Hash } : {}) };
}

function stringField(metadata: Record<string, unknown>, key: string): string | undefined {
  const value = metadata[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function stringsOnly(value: unknown): Record<string, string> {
  let parsed: Record<string, string | null>;
  try {
    parsed = customMetadata(value, false);
  } catch {
    throw badRequest('metadata must be an object of strings');
  }
  return parsed as Record<string, string>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
