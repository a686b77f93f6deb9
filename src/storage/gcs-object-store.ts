import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat as statFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Bucket, File, FileMetadata, Storage } from '@google-cloud/storage';
import { FatalError, RunwardenError, UsageError } from '../core/errors.js';
import { abortable } from '../google/retry.js';
import {
  type ObjectStoreOptions,
  resolveObjectStoreOptions,
  storageClientOptions,
} from './client-options.js';
import type {
  DeleteOptions,
  DownloadOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  ReadOptions,
} from './object-store.js';
import { mapStorageError } from './storage-errors.js';

type Resolved = ReturnType<typeof resolveObjectStoreOptions>;

/**
 * Opens the ObjectStore on the real @google-cloud/storage client. The client (and its auth stack) is
 * imported here, on first use, so commands that never touch a bucket never load it. Throws
 * ConfigError naming every bad option; makes no request.
 */
export async function openGcsObjectStore(options: ObjectStoreOptions): Promise<ObjectStore> {
  const resolved = resolveObjectStoreOptions(options);
  const { IdempotencyStrategy, Storage } = await import('@google-cloud/storage');
  return new GcsObjectStore(
    new Storage(storageClientOptions(resolved, IdempotencyStrategy.RetryAlways)),
    resolved,
  );
}

/** ObjectStore on one bucket (and prefix) through @google-cloud/storage's JSON API client. */
export class GcsObjectStore implements ObjectStore {
  readonly #bucket: Bucket;
  readonly #options: Resolved;

  constructor(storage: Storage, options: Resolved) {
    this.#bucket = storage.bucket(options.bucket);
    this.#options = options;
  }

  async put(file: string, name: string, options: PutOptions, signal: AbortSignal): Promise<PutResult> {
    const doing = `upload ${file} to ${this.#where(name)}`;
    const size = await this.#call(doing, signal, async () => (await statFile(file)).size);
    const target = this.#file(name);
    const resumable = size >= this.#options.resumableThresholdBytes;
    const upload = target.createWriteStream({
      resumable,
      ...(resumable ? { chunkSize: this.#options.chunkSizeBytes } : {}),
      validation: 'crc32c',
      preconditionOpts: preconditions(options),
      metadata: {
        contentType: options.contentType ?? 'application/octet-stream',
        ...(options.storageClass ? { storageClass: options.storageClass } : {}),
        ...(resumable ? { contentLength: size } : {}),
        ...(options.metadata ? { metadata: options.metadata } : {}),
      },
    });
    // The client's CRC32C of the bytes it sent (its validation compared it with the bucket's before
    // the stream finishes): one pure-JavaScript pass over the file instead of a second one elsewhere.
    let sentCrc32c: string | undefined;
    upload.once('crc32c', (value: unknown) => {
      if (typeof value === 'string') sentCrc32c = value;
    });
    const info = await this.#call(doing, signal, async () => {
      await pipeline(createReadStream(file), upload, { signal });
      return toInfo(target.metadata, this.#options.prefix);
    });
    if (info.size !== size) {
      throw new FatalError(
        'RW_STORAGE_CORRUPT',
        `${doing}: the bucket holds ${info.size} bytes, the file has ${size}`,
      );
    }
    return sentCrc32c ? { ...info, sentCrc32c } : info;
  }

  async write(name: string, bytes: Buffer, options: PutOptions, signal: AbortSignal): Promise<ObjectInfo> {
    const target = this.#file(name);
    const precondition = preconditions(options);
    return this.#call(`write ${this.#where(name)}`, signal, async () => {
      await target.save(bytes, {
        resumable: false,
        validation: 'crc32c',
        preconditionOpts: precondition,
        metadata: {
          contentType: options.contentType ?? 'application/octet-stream',
          ...(options.metadata ? { metadata: options.metadata } : {}),
        },
      });
      return toInfo(target.metadata, this.#options.prefix);
    });
  }

  async read(
    name: string,
    options: ReadOptions,
    signal: AbortSignal,
  ): Promise<{ bytes: Buffer; generation: number }> {
    const range = options.range;
    if (
      range &&
      (!Number.isInteger(range.start) ||
        range.start < 0 ||
        (range.end !== undefined && range.end < range.start))
    ) {
      throw new UsageError(`read ${name}: range must be 0 <= start <= end, got ${JSON.stringify(range)}`);
    }
    return this.#call(`read ${this.#where(name)}`, signal, async () => {
      const stream = this.#file(name).createReadStream(
        range
          ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) }
          : { validation: 'crc32c' },
      );
      let generation = 0;
      stream.on('response', (response: IncomingMessage) => {
        generation = Number(response.headers['x-goog-generation'] ?? 0);
      });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return { bytes: Buffer.concat(chunks), generation };
    });
  }

  async stat(name: string, signal: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      return await this.#call(`stat ${this.#where(name)}`, signal, async () => {
        const [metadata] = await this.#file(name).getMetadata();
        return toInfo(metadata, this.#options.prefix);
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'RW_STORAGE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async list(prefix: string, signal: AbortSignal): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.#call(`list ${this.#where(prefix)}*`, signal, () =>
        this.#bucket.getFiles({
          prefix: this.#options.prefix + prefix,
          autoPaginate: false,
          maxResults: this.#options.pageSize,
          ...(pageToken ? { pageToken } : {}),
        }),
      );
      for (const file of files) out.push(toInfo(file.metadata, this.#options.prefix));
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    return out;
  }

  async download(
    name: string,
    toFile: string,
    signal: AbortSignal,
    options: DownloadOptions = {},
  ): Promise<ObjectInfo> {
    const pinned = options.generation === undefined ? '' : `#${options.generation}`;
    const doing = `download ${this.#where(name)}${pinned} to ${toFile}`;
    const info = await this.#statGeneration(name, options.generation, signal);
    if (!info) {
      throw new FatalError(
        'RW_STORAGE_NOT_FOUND',
        `${doing}: no such object${pinned ? ' (that generation is gone: replaced or deleted)' : ''}`,
      );
    }
    // Pinned to the generation just read, so the bytes are those the metadata describes.
    const source = this.#bucket.file(this.#options.prefix + name, { generation: info.generation });
    const partial = `${toFile}.partial`;
    try {
      await this.#call(doing, signal, () =>
        pipeline(source.createReadStream({ validation: 'crc32c' }), createWriteStream(partial), { signal }),
      );
      const size = (await statFile(partial)).size;
      if (size !== info.size) {
        throw new FatalError(
          'RW_STORAGE_CORRUPT',
          `${doing}: received ${size} bytes, the object has ${info.size}`,
        );
      }
      await rename(partial, toFile);
      return info;
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async delete(name: string, options: DeleteOptions, signal: AbortSignal): Promise<void> {
    await this.#call(`delete ${this.#where(name)}`, signal, () =>
      this.#file(name).delete(
        options.ifGenerationMatch !== undefined ? { ifGenerationMatch: options.ifGenerationMatch } : {},
      ),
    );
  }

  async #statGeneration(
    name: string,
    generation: number | undefined,
    signal: AbortSignal,
  ): Promise<ObjectInfo | undefined> {
    if (generation === undefined) return this.stat(name, signal);
    try {
      return await this.#call(`stat ${this.#where(name)}#${generation}`, signal, async () => {
        const [metadata] = await this.#bucket.file(this.#options.prefix + name, { generation }).getMetadata();
        return toInfo(metadata, this.#options.prefix);
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'RW_STORAGE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  #file(name: string): File {
    return this.#bucket.file(this.#options.prefix + name);
  }

  #where(name: string): string {
    return `gs://${this.#options.bucket}/${this.#options.prefix}${name}`;
  }

  // Runs one client call: an abort rejects at once with the signal's reason (the client takes no
  // signal for most calls, so the request itself finishes in the background), and every failure is
  // mapped to runwarden's errors.
  async #call<T>(doing: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    try {
      return await abortable(run(), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof RunwardenError) throw error;
      throw mapStorageError(doing, error);
    }
  }
}

function preconditions(options: PutOptions): { ifGenerationMatch?: number } {
  if (options.ifAbsent && options.ifGenerationMatch !== undefined && options.ifGenerationMatch !== 0) {
    throw new UsageError('put: give ifAbsent or ifGenerationMatch, not both');
  }
  if (options.ifAbsent) return { ifGenerationMatch: 0 };
  return options.ifGenerationMatch !== undefined ? { ifGenerationMatch: options.ifGenerationMatch } : {};
}

function toInfo(metadata: FileMetadata, prefix: string): ObjectInfo {
  const custom: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.metadata ?? {})) {
    if (value !== null && value !== undefined) custom[key] = String(value);
  }
  const name = metadata.name ?? '';
  return {
    name: name.startsWith(prefix) ? name.slice(prefix.length) : name,
    generation: Number(metadata.generation),
    metageneration: Number(metadata.metageneration),
    size: Number(metadata.size),
    crc32c: metadata.crc32c ?? '',
    ...(metadata.md5Hash ? { md5Hash: metadata.md5Hash } : {}),
    metadata: custom,
    storageClass: metadata.storageClass ?? '',
    updated: metadata.updated ? Date.parse(metadata.updated) : 0,
  };
}
