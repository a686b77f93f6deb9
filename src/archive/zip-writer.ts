import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { type Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { crc32, createDeflateRaw, deflateRaw, deflateRawSync } from 'node:zlib';
import { FatalError } from '../core/errors.js';
import { type Digest, HashingStream } from './hashing.js';
import { type CompressionMethod, ZIP_METHOD } from './manifest.js';
import {
  centralHeader,
  endRecords,
  localHeader,
  localHeaderPatches,
  MAX_32,
  type ZipEntryRecord,
} from './zip-format.js';

/** Entries whose size may reach this get a ZIP64 field reserved in their local header. */
const ZIP64_THRESHOLD = 0xf0000000;
const deflateRawAsync = promisify(deflateRaw);
/** Small entries are queued and written together in writes of about this size. */
const COALESCE_BYTES = 1024 * 1024;
const SYNC_DEFLATE_BYTES = 64 * 1024;

/** Deflate output chunk of `add`; see OUTPUT_CHUNK in deflate-pool.ts for why not larger. */
const DEFLATE_CHUNK = 64 * 1024;

export interface AddEntryOptions {
  method: CompressionMethod;
  /** Deflate level 1-9 (ignored for store). */
  level?: number;
  mtime?: Date;
  /**
   * The expected uncompressed size in bytes. Unknown or near 4 GiB reserves a ZIP64 field, so the
   * entry may grow past 4 GiB; a known smaller size keeps the header classic.
   */
  sizeHint?: number;
  signal?: AbortSignal;
  /** Called with each chunk's uncompressed byte count as it passes (progress). */
  onBytes?: (bytes: number) => void;
}

/** One written entry: its uncompressed size, SHA-256 and CRC-32, plus how it was stored. */
export interface WrittenEntry extends Digest {
  name: string;
  method: CompressionMethod;
  /** Bytes the entry's data takes in the archive. */
  compressedSize: number;
  /** Where the entry's data starts in the file, and the CRC-32 of its bytes as written. */
  dataOffset: number;
  dataCrc32: number;
  /** Where its local header starts, and the CRC-32 of the header as it ends up (patched). */
  headerOffset: number;
  headerCrc32: number;
}

/**
 * A streaming ZIP writer into a file it creates exclusively. Entries stream through a hasher and,
 * for `deflate`, zlib; nothing is held in memory beyond a chunk. No data descriptors: each local
 * header's CRC and sizes are patched in place once the entry is written, which every unzip reads.
 * One entry at a time, in file order: entries compressed elsewhere in parallel (archive-pipeline.ts)
 * arrive through `beginEntry`/`writeData`/`endEntry` or `addCompressed`.
 */
export class ZipWriter {
  readonly file: string;
  readonly #handle: FileHandle;
  readonly #entries: ZipEntryRecord[] = [];
  /** Bytes written to the file; queued small writes come after it. */
  #position = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The entry between beginEntry and endEntry. */
  #open:
    | { record: ZipEntryRecord; method: CompressionMethod; dataStart: number; dataCrc: number }
    | undefined;
  #closed = false;

  private constructor(file: string, handle: FileHandle) {
    this.file = file;
    this.#handle = handle;
  }

  /** Creates `file` exclusively (fails with EEXIST when it exists). */
  static async create(file: string): Promise<ZipWriter> {
    return new ZipWriter(file, await open(file, 'wx', 0o644));
  }

  /** Bytes written so far (queued ones included). */
  get size(): number {
    return this.#position + this.#pendingBytes;
  }

  /** Streams `source` into a new entry named `name` (UTF-8, `/`-separated). */
  async add(name: string, source: Readable, options: AddEntryOptions): Promise<WrittenEntry> {
    await this.beginEntry(name, options);
    try {
      const hasher = new HashingStream(options.onBytes);
      const stages: Transform[] = [hasher];
      if (options.method === 'deflate')
        stages.push(createDeflateRaw({ level: options.level ?? 6, chunkSize: DEFLATE_CHUNK }));
      await pipeline([source, ...stages, this.#sink()], { signal: options.signal });
      return await this.endEntry(hasher.digest());
    } finally {
      this.#open = undefined;
    }
  }

  /**
   * Starts an entry whose data follows through `writeData` (already compressed by `options.method`)
   * and ends with `endEntry`. The local header is written now and patched at the end. One entry at
   * a time.
   */
  async beginEntry(name: string, options: Pick<AddEntryOptions, 'method' | 'mtime' | 'sizeHint'>) {
    this.#checkIdle(name);
    const record = this.#record(name, options.method, options.mtime, {
      zip64: options.sizeHint === undefined || options.sizeHint >= ZIP64_THRESHOLD,
    });
    this.#open = { record, method: options.method, dataStart: 0, dataCrc: 0 };
    await this.#append(localHeader(record));
    this.#open.dataStart = this.#position;
  }

  /** Appends data of the entry begun with `beginEntry`: one buffer or several, in order. */
  async writeData(data: Buffer | readonly Buffer[]): Promise<void> {
    const open = this.#open;
    if (!open) throw new Error(`zip ${this.file}: data written outside an entry`);
    // The bytes as handed to the file: the verification reads them back after fsync.
    for (const buffer of Buffer.isBuffer(data) ? [data] : data) open.dataCrc = crc32(buffer, open.dataCrc);
    await this.#append(data);
  }

  /** Ends the open entry: `digest` describes its uncompressed data; the header is patched. */
  async endEntry(digest: Digest): Promise<WrittenEntry> {
    const open = this.#open;
    if (!open) throw new Error(`zip ${this.file}: no entry to end`);
    this.#open = undefined;
    const { record } = open;
    record.crc32 = digest.crc32;
    record.uncompressedSize = digest.size;
    record.compressedSize = this.#position - open.dataStart;
    const name = record.name.toString('utf8');
    if (!record.zip64 && (record.uncompressedSize >= MAX_32 || record.compressedSize >= MAX_32))
      throw new FatalError('RW_BACKUP_GREW', `${name} grew past 4 GiB while it was being archived`);
    for (const [at, bytes] of localHeaderPatches(record)) await this.#writeAt(bytes, record.offset + at);
    this.#entries.push(record);
    return {
      headerOffset: record.offset,
      headerCrc32: crc32(finalHeader(record)) >>> 0,
      ...digest,
      name,
      method: open.method,
      compressedSize: record.compressedSize,
      dataOffset: open.dataStart,
      dataCrc32: open.dataCrc >>> 0,
    };
  }

  /**
   * Adds an entry whose bytes are already in memory (small files): hashed and compressed in one go,
   * header and data written with a single write. Same result as `add`, a fraction of the cost per
   * entry, which matters for media folders of many small files.
   */
  async addBuffer(
    name: string,
    data: Buffer,
    options: Omit<AddEntryOptions, 'sizeHint' | 'signal'>,
  ): Promise<WrittenEntry> {
    this.#checkIdle(name);
    const level = options.level ?? 6;
    // Tiny inputs deflate faster in place than through a thread-pool round trip.
    const compressed =
      options.method === 'store'
        ? data
        : data.length <= SYNC_DEFLATE_BYTES
          ? deflateRawSync(data, { level })
          : await deflateRawAsync(data, { level });
    const digest: Digest = {
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      crc32: crc32(data) >>> 0,
    };
    const written = await this.addCompressed(name, compressed, digest, options);
    options.onBytes?.(data.length);
    return written;
  }

  /**
   * Adds a whole entry whose data is already compressed by `options.method` and whose
   * uncompressed bytes `digest` describes. Header and data are queued and written with their
   * neighbours, about 1 MiB at a time.
   */
  async addCompressed(
    name: string,
    compressed: Buffer | readonly Buffer[],
    digest: Digest,
    options: Pick<AddEntryOptions, 'method' | 'mtime'>,
  ): Promise<WrittenEntry> {
    this.#checkIdle(name);
    const chunks = Buffer.isBuffer(compressed) ? [compressed] : compressed;
    const compressedSize = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const record = this.#record(name, options.method, options.mtime, {
      zip64: digest.size >= ZIP64_THRESHOLD || compressedSize >= ZIP64_THRESHOLD,
      crc32: digest.crc32,
      compressedSize,
      uncompressedSize: digest.size,
    });
    const header = finalHeader(record);
    this.#entries.push(record);
    let dataCrc = 0;
    for (const chunk of chunks) dataCrc = crc32(chunk, dataCrc);
    await this.#appendCoalesced([header, ...chunks]);
    return {
      ...digest,
      name,
      method: options.method,
      compressedSize,
      dataOffset: record.offset + header.length,
      headerOffset: record.offset,
      headerCrc32: crc32(header) >>> 0,
      dataCrc32: dataCrc >>> 0,
    };
  }

  /** Writes the central directory and end records, fsyncs and closes. Returns the file's size. */
  async finish(): Promise<number> {
    await this.#flush();
    const directoryOffset = this.#position;
    await this.#append(Buffer.concat(this.#entries.map(centralHeader)));
    const directorySize = this.#position - directoryOffset;
    await this.#append(endRecords(this.#entries.length, directoryOffset, directorySize));
    await this.#handle.sync();
    await this.close();
    return this.#position;
  }

  /** Closes the file without finishing it (failure paths); idempotent. The caller removes it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }

  #checkIdle(name: string): void {
    if (this.#open || this.#closed)
      throw new Error(`zip ${this.file}: add ${name} while an entry is open or the file closed`);
  }

  #record(
    name: string,
    method: CompressionMethod,
    mtime: Date | undefined,
    known: Partial<ZipEntryRecord> & { zip64: boolean },
  ): ZipEntryRecord {
    const record: ZipEntryRecord = {
      name: Buffer.from(name, 'utf8'),
      method: ZIP_METHOD[method],
      mtime: mtime ?? new Date(),
      crc32: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      offset: this.size,
      ...known,
    };
    if (record.name.length > 0xffff) throw new FatalError('RW_BACKUP_NAME', `entry name too long: ${name}`);
    return record;
  }

  /** A sink for one entry's data; it appends at the current end and advances it. */
  #sink(): Writable {
    return new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.writeData(chunk).then(() => callback(), callback);
      },
    });
  }

  async #append(data: Buffer | readonly Buffer[]): Promise<void> {
    await this.#flush();
    this.#position += await this.#writeAt(data, this.#position);
  }

  /**
   * Queues small writes (whole small entries) and writes them together, about 1 MiB at a time, in
   * one writev: never concatenated, so no large buffer is allocated and freed per write.
   */
  async #appendCoalesced(buffers: readonly Buffer[]): Promise<void> {
    for (const buffer of buffers) {
      this.#pending.push(buffer);
      this.#pendingBytes += buffer.length;
    }
    if (this.#pendingBytes >= COALESCE_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#position += await this.#writeAt(pending, this.#position);
  }

  /** Writes `data` at `position`, all of it; returns the bytes written. */
  async #writeAt(data: Buffer | readonly Buffer[], position: number): Promise<number> {
    let buffers = (Buffer.isBuffer(data) ? [data] : data).filter((buffer) => buffer.length > 0);
    let written = 0;
    while (buffers.length > 0) {
      const first = buffers[0] as Buffer;
      const { bytesWritten } =
        buffers.length === 1
          ? await this.#handle.write(first, 0, first.length, position + written)
          : await this.#handle.writev(buffers, position + written);
      if (bytesWritten === 0)
        throw Object.assign(new Error('no bytes written (disk full?)'), { code: 'ENOSPC' });
      written += bytesWritten;
      buffers = skipBytes(buffers, bytesWritten);
    }
    return written;
  }
}

/** The local header of `record` as it ends up in the file: written, then patched with CRC and sizes. */
function finalHeader(record: ZipEntryRecord): Buffer {
  const header = localHeader(record);
  for (const [at, bytes] of localHeaderPatches(record)) bytes.copy(header, at);
  return header;
}

/** `buffers` without their first `count` bytes (after a short write). */
function skipBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}
