import { randomUUID } from 'node:crypto';
import { openSync, closeSync, readSync, writeSync } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, noSuchBucket, noSuchObject, StorageApiError } from './storage-api-error.js';
import type { ObjectHashes } from './storage-hash.js';
import { checkPreconditions, type Preconditions } from './storage-preconditions.js';

/** One live object: its metadata in memory, its bytes in `file` on disk. */
export interface StoredObject extends ObjectHashes {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  contentType: string;
  /** STANDARD, NEARLINE, COLDLINE or ARCHIVE, as the upload asked (the bucket's default: STANDARD). */
  storageClass: string;
  /** Custom metadata (string values, as Cloud Storage keeps them). */
  metadata: Record<string, string>;
  /** Epoch ms. */
  timeCreated: number;
  updated: number;
  file: string;
}

/** What an upload hands over once every byte is staged. */
export interface NewObject extends ObjectHashes {
  bucket: string;
  name: string;
  file: string;
  size: number;
  contentType: string;
  storageClass: string;
  metadata: Record<string, string>;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxResults?: number;
  pageToken?: string;
}

export interface ListPage {
  items: StoredObject[];
  prefixes: string[];
  nextPageToken?: string;
}

const BUCKET_NAME = /^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/;

/**
 * The buckets and their live objects (one generation each: no versioning). Every check-and-change
 * (preconditions, then the new version) runs synchronously, so two concurrent writers can never both
 * pass `ifGenerationMatch`: that is what makes the emulator a faithful compare-and-swap.
 */
export class StorageBuckets {
  readonly #dir: string;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Map<string, StoredObject>>();
  #lastGeneration = 0;

  constructor(options: { dir: string; clock: () => number }) {
    this.#dir = options.dir;
    this.#clock = options.clock;
  }

  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
  }

  /** Removes every stored byte; the emulator is unusable afterwards. */
  async close(): Promise<void> {
    this.#buckets.clear();
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** A fresh path for the bytes of an upload. */
  stagingPath(): string {
    return join(this.#dir, randomUUID());
  }

  createBucket(name: string): void {
    if (!BUCKET_NAME.test(name)) throw badRequest(`Invalid bucket name: "${name}"`);
    if (this.#buckets.has(name)) {
      throw new StorageApiError(409, 'conflict', `The requested bucket name is not available: ${name}`);
    }
    this.#buckets.set(name, new Map());
  }

  hasBucket(name: string): boolean {
    return this.#buckets.has(name);
  }

  bucketNames(): string[] {
    return [...this.#buckets.keys()].sort();
  }

  /** The live object, or undefined; 404 when the bucket does not exist. */
  find(bucket: string, name: string): StoredObject | undefined {
    return this.#objects(bucket).get(name);
  }

  /** The live object (or the given generation of it), or 404. */
  get(bucket: string, name: string, generation?: number): StoredObject {
    const found = this.find(bucket, name);
    if (!found || (generation !== undefined && found.generation !== generation))
      throw noSuchObject(bucket, name);
    return found;
  }

  /** Makes `object` the live version if `pre` holds (412 otherwise); the old version's bytes go. */
  commit(object: NewObject, pre: Preconditions): StoredObject {
    const objects = this.#objects(object.bucket);
    const previous = objects.get(object.name);
    checkPreconditions(previous, pre);
    const now = this.#clock();
    const stored: StoredObject = {
      ...object,
      generation: this.#nextGeneration(now),
      metageneration: 1,
      timeCreated: now,
      updated: now,
    };
    objects.set(object.name, stored);
    if (previous) void unlink(previous.file).catch(() => undefined);
    return stored;
  }

  delete(bucket: string, name: string, pre: Preconditions, generation?: number): void {
    const found = this.get(bucket, name, generation);
    checkPreconditions(found, pre);
    this.#objects(bucket).delete(name);
    void unlink(found.file).catch(() => undefined);
  }

  /** Merges custom metadata (a null value removes a key) and bumps the metageneration. */
  patch(
    bucket: string,
    name: string,
    change: { metadata?: Record<string, string | null>; contentType?: string },
    pre: Preconditions,
  ): StoredObject {
    const found = this.get(bucket, name);
    checkPreconditions(found, pre);
    const metadata = { ...found.metadata };
    for (const [key, value] of Object.entries(change.metadata ?? {})) {
      if (value === null) delete metadata[key];
      else metadata[key] = value;
    }
    const patched: StoredObject = {
      ...found,
      metadata,
      contentType: change.contentType ?? found.contentType,
      metageneration: found.metageneration + 1,
      updated: this.#clock(),
    };
    this.#objects(bucket).set(name, patched);
    return patched;
  }

  /**
   * Objects in name order after the page token, with `prefix`; with a delimiter, names that have it
   * after the prefix fold into one entry of `prefixes` (each counts toward `maxResults` once).
   */
  list(bucket: string, options: ListOptions): ListPage {
    const prefix = options.prefix ?? '';
    const after = options.pageToken ? decodeToken(options.pageToken) : undefined;
    const max = options.maxResults ?? 1_000;
    const objects = this.#objects(bucket);
    const names = [...objects.keys()]
      .filter((name) => name.startsWith(prefix) && (after === undefined || name > after))
      .sort();
    const page: ListPage = { items: [], prefixes: [] };
    let index = 0;
    while (index < names.length) {
      if (page.items.length + page.prefixes.length >= max) {
        page.nextPageToken = encodeToken(names[index - 1]!);
        break;
      }
      const name = names[index]!;
      const cut = options.delimiter ? name.indexOf(options.delimiter, prefix.length) : -1;
      if (cut < 0) {
        page.items.push(objects.get(name)!);
        index += 1;
        continue;
      }
      const folded = name.slice(0, cut + options.delimiter!.length);
      page.prefixes.push(folded);
      while (index < names.length && names[index]!.startsWith(folded)) index += 1;
    }
    return page;
  }

  /**
   * Flips one byte of the stored bytes (at `offset`, the middle by default) and leaves the recorded
   * hashes alone: bit rot, or a bad disk, behind the bucket's back. Returns the offset flipped.
   */
  corrupt(bucket: string, name: string, offset?: number): number {
    const found = this.get(bucket, name);
    if (found.size === 0) throw badRequest(`object ${bucket}/${name} is empty: no byte to corrupt`);
    const at = offset ?? Math.floor(found.size / 2);
    if (!Number.isInteger(at) || at < 0 || at >= found.size) {
      throw badRequest(`offset ${offset} is outside object ${bucket}/${name} (${found.size} bytes)`);
    }
    const fd = openSync(found.file, 'r+');
    try {
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0xff;
      writeSync(fd, byte, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    return at;
  }

  /** Every live object, for the control API's view. */
  objects(bucket: string): StoredObject[] {
    return [...this.#objects(bucket).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  #objects(bucket: string): Map<string, StoredObject> {
    const objects = this.#buckets.get(bucket);
    if (!objects) throw noSuchBucket(bucket);
    return objects;
  }

  // Cloud Storage generations are microsecond timestamps; strictly increasing here even when the
  // clock stands still, so two versions never share one.
  #nextGeneration(now: number): number {
    this.#lastGeneration = Math.max(now * 1_000, this.#lastGeneration + 1);
    return this.#lastGeneration;
  }
}

function encodeToken(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}
