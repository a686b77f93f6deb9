import { Readable } from 'node:stream';
import yauzl, { type Entry } from 'yauzl';
import { BackupCorruptError } from '../archive/errors.js';
import { MANIFEST_ENTRY } from '../archive/manifest.js';
import { type ManifestRead, readManifestWithDigest } from '../archive/manifest-read.js';
import { errorMessage, FatalError, RetryableError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { AGE_SUFFIX } from './encrypt.js';
import { OffsiteCode, OffsiteMetadata } from './offsite-errors.js';

/**
 * Bytes fetched per request. manifest.json is the archive's last entry, just before the central
 * directory, so for most archives the first (tail) block holds the end record, the directory and
 * the manifest: one request. A directory of many media files (about 100 bytes each) takes a few.
 * (Smaller blocks are for tests: the same reads, more of them.)
 */
const BLOCK_BYTES = 1024 * 1024;

/** Blocks kept while one manifest is read (the tail, the directory's, the manifest's). */
const BLOCKS_KEPT = 4;

/**
 * Reads an archive's manifest straight from its object in the bucket by byte ranges (the ZIP's end
 * record and central directory, then manifest.json), so a watcher learns what an archive holds
 * without downloading it. Checked as a local read is (CRC-32, the manifest schema) and, when the
 * uploader recorded it, against the object's `manifest_sha256`. Rejects with a FatalError naming
 * the object: encrypted (age: it cannot be read without an identity), replaced while it was read
 * (RetryableError RW_OFFSITE_RACED), not a ZIP or a bad manifest (BackupCorruptError), a digest that is not the
 * recorded one (RW_OFFSITE_MISMATCH); the store's own errors pass through.
 */
export async function readRemoteManifest(
  store: ObjectStore,
  object: ObjectInfo,
  url: string,
  signal: AbortSignal,
  options: { blockBytes?: number } = {},
): Promise<ManifestRead> {
  if (object.name.endsWith(AGE_SUFFIX))
    throw new FatalError(
      OffsiteCode.decrypt,
      `${url} is encrypted (age): its manifest cannot be read without an identity, which a watcher does not hold`,
    );
  const reader = new BucketRangeReader(store, object, url, signal, options.blockBytes ?? BLOCK_BYTES);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(reader, object.size, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (error) {
    throw (
      reader.failure ?? new BackupCorruptError(url, undefined, `not a readable ZIP: ${errorMessage(error)}`)
    );
  }
  try {
    const entries = new Map<string, Entry>();
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== MANIFEST_ENTRY) continue;
      if (entries.has(MANIFEST_ENTRY)) throw new BackupCorruptError(url, MANIFEST_ENTRY, 'appears twice');
      entries.set(MANIFEST_ENTRY, entry);
    }
    const read = await readManifestWithDigest(
      {
        file: url,
        entries,
        // readManifestWithDigest reads it through a pipeline under `signal`, which destroys it on abort.
        open: (entry) => zip.openReadStreamPromise(entry),
      },
      signal,
    );
    const recorded = object.metadata[OffsiteMetadata.manifestSha256];
    if (recorded !== undefined && recorded !== read.sha256)
      throw new FatalError(
        OffsiteCode.mismatch,
        `${url}: its manifest's SHA-256 is ${read.sha256}, the ${OffsiteMetadata.manifestSha256} recorded on upload is ${recorded}`,
      );
    return read;
  } catch (error) {
    signal.throwIfAborted();
    throw reader.failure ?? error;
  } finally {
    zip.close();
  }
}

/**
 * yauzl's random-access reader over ranged reads of one generation of the object, a block at a
 * time: yauzl reads the directory an entry header at a time, which must not be a request each.
 */
class BucketRangeReader extends yauzl.RandomAccessReader {
  #blocks: Array<{ start: number; bytes: Buffer }> = [];
  /** The first failure of the store (yauzl wraps or swallows it): what the caller rethrows. */
  failure: Error | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly object: ObjectInfo,
    private readonly url: string,
    private readonly signal: AbortSignal,
    private readonly blockBytes: number,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const range = async function* (reader: BucketRangeReader) {
      yield await reader.#bytes(start, end);
    };
    return Readable.from(range(this), { objectMode: false });
  }

  async #bytes(start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    const held = this.#blocks.find(
      (block) => block.start <= start && end <= block.start + block.bytes.length,
    );
    if (held) return held.bytes.subarray(start - held.start, end - held.start);
    const size = this.object.size;
    // Near the end, the block reaches back from it (the end record, then the directory before it).
    const block = this.blockBytes;
    const from = end > size - block ? Math.max(0, Math.min(start, size - block)) : start;
    const to = Math.min(size, Math.max(end, from + block));
    try {
      const { bytes, generation } = await this.store.read(
        this.object.name,
        { range: { start: from, end: to - 1 } },
        this.signal,
      );
      if (generation !== this.object.generation)
        throw new RetryableError(
          OffsiteCode.raced,
          `${this.url} was replaced while its manifest was read (generation ${this.object.generation}, now ${generation})`,
        );
      if (bytes.length !== to - from)
        throw new RetryableError(
          OffsiteCode.raced,
          `${this.url}: asked for bytes ${from}-${to - 1}, got ${bytes.length} bytes (the object is shorter than listed)`,
        );
      this.#blocks.push({ start: from, bytes });
      if (this.#blocks.length > BLOCKS_KEPT) this.#blocks.shift();
      return bytes.subarray(start - from, end - from);
    } catch (error) {
      this.failure ??= error as Error;
      throw error;
    }
  }
}
