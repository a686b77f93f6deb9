import { type FileHandle, open, unlink } from 'node:fs/promises';
import { type Crc32cFactory, type ObjectHashes, ObjectHasher } from './storage-hash.js';

/**
 * Bytes of an object being uploaded, written to a file on disk as they arrive (a 1 GB archive never
 * sits in memory) and hashed in the same pass. A resumable upload appends to one staged file across
 * its requests; whatever was appended before a dropped connection stays persisted.
 */
export class StagedFile {
  readonly path: string;
  #handle: FileHandle | undefined;
  #size = 0;
  readonly #hasher: ObjectHasher;

  private constructor(path: string, handle: FileHandle, crc32c: Crc32cFactory) {
    this.path = path;
    this.#handle = handle;
    this.#hasher = new ObjectHasher(crc32c);
  }

  static async create(path: string, crc32c: Crc32cFactory): Promise<StagedFile> {
    return new StagedFile(path, await open(path, 'wx'), crc32c);
  }

  /** Bytes persisted so far. */
  get size(): number {
    return this.#size;
  }

  async append(data: Buffer): Promise<void> {
    if (!this.#handle) throw new Error(`staged file ${this.path} is already closed`);
    if (data.length === 0) return;
    await this.#handle.write(data, 0, data.length, this.#size);
    this.#hasher.update(data);
    this.#size += data.length;
  }

  /** Closes the file and returns the hashes of every byte appended; the file is kept. */
  async finish(): Promise<ObjectHashes> {
    await this.#close();
    return this.#hasher.digest();
  }

  /** Closes and deletes the file (a cancelled or refused upload). */
  async discard(): Promise<void> {
    await this.#close();
    await unlink(this.path).catch(() => undefined);
  }

  async #close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}
