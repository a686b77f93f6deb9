import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import { StorageBuckets } from './storage-buckets.js';
import { type StorageFault, StorageFaults } from './storage-faults.js';
import { loadCrc32c } from './storage-hash.js';
import { startStorageServer } from './storage-server.js';
import { StorageUploads } from './storage-uploads.js';

/** An object as the control API shows it. */
export interface StorageObjectView {
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  crc32c: string;
  md5Hash: string;
  contentType: string;
  storageClass: string;
  metadata: Record<string, string>;
}

/**
 * The Cloud Storage side of the playground: a JSON API endpoint the real `@google-cloud/storage`
 * client reaches through `apiEndpoint` (see storageEmulatorOptions), with the bytes of every object
 * in a temporary folder on disk and their metadata in memory. Every method throws StorageApiError
 * (404 unknown bucket or object, 400 bad input) or UsageError (a bad fault).
 *
 * Served: buckets insert/get/list; objects get (metadata), list (prefix, delimiter, maxResults,
 * pageToken), patch (custom metadata, contentType), delete, media download (`alt=media` or
 * /download/..., `Range: bytes=S-E | S- | -N` as 206, 416 past the end); uploads simple
 * (`uploadType=media`), multipart, and resumable (session URI, chunks with Content-Range answered 308
 * with the persisted Range, the status query `bytes *\/N` or `bytes *\/*`, resent overlaps skipped,
 * DELETE cancels with 499). Generation (a microsecond timestamp, strictly increasing) and
 * metageneration with ifGenerationMatch (0: only if absent) / ifGenerationNotMatch /
 * ifMetagenerationMatch / ifMetagenerationNotMatch: 412, or 304 for a failed NotMatch on a read;
 * on uploads they are checked when the object is finalized. CRC32C and MD5 computed from the stored
 * bytes, returned base64 in the resource and `x-goog-hash`; hashes the client declares are checked (400).
 *
 * Not served: object versioning (one live generation; older generations are gone), copy/rewrite/
 * compose, ACLs and IAM, bucket metadata updates and lifecycle, retention and soft delete, signed
 * URLs, the XML API, gzip transcoding, customer-supplied or KMS keys, matchGlob/startOffset/
 * endOffset on list (400), several ranges in one Range header (whole object), session expiry, and
 * the 256 KiB granularity of persisted bytes (a dropped chunk keeps every byte that arrived).
 * Anything else answers 501 naming the method and path.
 */
export interface StorageEmulator {
  /** Base URL, e.g. http://127.0.0.1:PORT: the client's `apiEndpoint`. */
  readonly url: string;
  readonly project: string;
  createBucket(name: string): void;
  buckets(): string[];
  objects(bucket: string): StorageObjectView[];
  /** Queues a fault for the next matching requests (see storage-faults.ts). */
  injectFault(fault: StorageFault): void;
  /** Drops every queued fault and slow bucket. */
  clearFaults(): void;
  /**
   * Opens another endpoint onto the same buckets, named `door`: a client given its URL can be cut
   * off alone (a fault with `door`) while the others still reach the bucket. Resolves with its URL;
   * closed by `stop`.
   */
  openDoor(door: string): Promise<string>;
  /** Every request on `bucket` waits `delayMs` first; 0 ends it. */
  slowBucket(bucket: string, delayMs: number): void;
  pendingFaults(): ReturnType<StorageFaults['pending']>;
  /**
   * Flips one stored byte of an object (the middle one unless `offset`), keeping its recorded
   * hashes: the next full download fails the client's CRC32C check. Returns the offset flipped.
   */
  corrupt(bucket: string, name: string, offset?: number): number;
  /** Stops the server and deletes every stored byte; idempotent. */
  stop(): Promise<void>;
}

export interface StorageEmulatorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  project: string;
  buckets?: readonly string[];
  /** Parent of the temporary folder holding object bytes; the OS temp folder by default. */
  dir?: string;
  clock: () => number;
  logger: Logger;
}

export async function startStorageEmulator(options: StorageEmulatorOptions): Promise<StorageEmulator> {
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'runwarden-playground-gcs-'));
  const buckets = new StorageBuckets({ dir, clock: options.clock });
  await buckets.open();
  try {
    for (const name of options.buckets ?? []) buckets.createBucket(name);
    const crc32c = await loadCrc32c();
    const uploads = new StorageUploads(buckets, crc32c);
    const faults = new StorageFaults();
    const server = await startStorageServer({
      host: options.host,
      port: options.port,
      project: options.project,
      buckets,
      uploads,
      faults,
      logger: options.logger,
    });
    const doors: Array<{ close(): Promise<void> }> = [];
    let stopped: Promise<void> | undefined;
    return {
      url: server.url,
      project: options.project,
      createBucket: (name) => buckets.createBucket(name),
      buckets: () => buckets.bucketNames(),
      objects: (bucket) =>
        buckets.objects(bucket).map((object) => ({
          name: object.name,
          generation: object.generation,
          metageneration: object.metageneration,
          size: object.size,
          crc32c: object.crc32c,
          md5Hash: object.md5Hash,
          contentType: object.contentType,
          storageClass: object.storageClass,
          metadata: { ...object.metadata },
        })),
      injectFault: (fault) => faults.inject(fault),
      clearFaults: () => faults.clear(),
      openDoor: async (door) => {
        const extra = await startStorageServer({
          host: options.host,
          port: 0,
          project: options.project,
          buckets,
          uploads,
          faults,
          logger: options.logger,
          door,
        });
        doors.push(extra);
        return extra.url;
      },
      slowBucket: (bucket, delayMs) => {
        buckets.objects(bucket);
        faults.setLatency(bucket, delayMs);
      },
      pendingFaults: () => faults.pending(),
      corrupt: (bucket, name, offset) => buckets.corrupt(bucket, name, offset),
      stop: () => {
        stopped ??= (async () => {
          await Promise.all(doors.map((door) => door.close()));
          await server.close();
          await uploads.close();
          await buckets.close();
        })();
        return stopped;
      },
    };
  } catch (error) {
    await buckets.close();
    throw error;
  }
}
