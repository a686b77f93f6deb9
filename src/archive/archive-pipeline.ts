import type { FileHandle } from 'node:fs/promises';
import { AsyncQueue, ByteBudget } from './async-queue.js';
import { BlockDeflater, type DeflatePool } from './deflate-pool.js';
import { type Digest, Digester, digestOf } from './hashing.js';
import type { CompressionMethod } from './manifest.js';
import type { WrittenEntry, ZipWriter } from './zip-writer.js';

/** Files are read, hashed and compressed in blocks of this size. */
export const BLOCK_BYTES = 1024 * 1024;
/** What a queued entry costs beyond its bytes, so many tiny files cannot pile up without bound. */
const ENTRY_COST = 4 * 1024;

/** One entry to archive, and who wants to hear about it. */
export interface PipelineEntry {
  /** Path inside the archive (UTF-8, `/`-separated). */
  name: string;
  method: CompressionMethod;
  mtime?: Date;
  /** Expected uncompressed bytes; unknown or near 4 GiB reserves a ZIP64 field. */
  sizeHint?: number;
  /** Uncompressed bytes as they are read and hashed (progress). */
  onBytes?: (bytes: number) => void;
  /** Called once the entry is in the archive, in archive order. */
  onWritten?: (written: WrittenEntry) => void;
}

/** Where the consumer's time went (timing marks), in ms. */
export interface PipelineTimings {
  /** Waiting for the next entry, or for a block still compressing. */
  waitMs: number;
  /** In the ZipWriter: writes and header patches. */
  writeMs: number;
}

export interface PipelineOptions {
  pool: DeflatePool;
  /** Deflate level 1-9. */
  level: number;
  /**
   * Inflate every compressed block on the pool right after it is produced and compare it with its
   * input, so the bytes written are proven to decode to the bytes hashed (see checkInflates).
   */
  checkDeflate?: boolean;
  signal?: AbortSignal;
  /** Most uncompressed bytes read but not yet written; default: two blocks per thread, plus two. */
  bufferBytes?: number;
}

interface Piece {
  data: Promise<Buffer | Buffer[]>;
  cost: number;
  /** A pooled read buffer to recycle once written (store) or compressed (deflate). */
  buffer?: Buffer;
}

type Job =
  | { kind: 'whole'; entry: PipelineEntry; digest: Digest; data: Promise<Buffer | Buffer[]>; cost: number }
  | { kind: 'blocks'; entry: PipelineEntry; pieces: AsyncQueue<Piece>; digest?: Digest };

/**
 * Archives entries in order while their blocks compress in parallel. The producer (`addFile`,
 * `addBuffer`) reads and hashes on the calling thread and hands each block to the DeflatePool; one
 * consumer writes the compressed blocks to the ZipWriter in exactly the order they were queued, so
 * later entries and blocks compress while earlier ones wait to be written. Memory is flat: at most
 * `bufferBytes` of input are held between reading and writing, and the producer waits for room.
 *
 * The first failure (a read, a write such as ENOSPC, or the signal's abort) stops everything:
 * later calls throw it, and `finish` rejects with it. After a failure call `abandon`, which
 * returns once nothing touches the writer any more, so the caller may close and remove it.
 */
export class ArchivePipeline {
  readonly #writer: ZipWriter;
  readonly #options: PipelineOptions;
  readonly #budget: ByteBudget;
  readonly #jobs = new AsyncQueue<Job>();
  readonly #spare: Buffer[] = [];
  #current: Job | undefined;
  #failure: { error: unknown } | undefined;
  readonly #consumer: Promise<void>;
  readonly timings: PipelineTimings = { waitMs: 0, writeMs: 0 };

  constructor(writer: ZipWriter, options: PipelineOptions) {
    this.#writer = writer;
    this.#options = options;
    this.#budget = new ByteBudget(options.bufferBytes ?? (2 * options.pool.concurrency + 2) * BLOCK_BYTES);
    this.#consumer = this.#consume();
  }

  /**
   * Queues an entry whose bytes are in memory. Resolves once it is queued (not yet written);
   * `data` must not change until the entry is written.
   */
  async addBuffer(entry: PipelineEntry, data: Buffer): Promise<void> {
    if (data.length > BLOCK_BYTES) {
      let offset = 0;
      await this.#addBlocks(entry, async () => {
        const block = data.subarray(offset, offset + BLOCK_BYTES);
        offset += block.length;
        return { block };
      });
      return;
    }
    const cost = Math.min(data.length + ENTRY_COST, this.#budget.capacity);
    await this.#acquire(cost);
    const digest = digestOf(data);
    entry.onBytes?.(data.length);
    const compressed: Promise<Buffer | Buffer[]> =
      entry.method === 'store'
        ? Promise.resolve(data)
        : new BlockDeflater(this.#options.pool, this.#options.level, this.#options.checkDeflate).push(
            data,
            true,
          );
    this.#push({ kind: 'whole', entry, digest, data: settled(compressed), cost });
  }

  /**
   * Queues an entry read from `handle` from offset 0 to its end, block by block. Resolves with the
   * bytes read once every one of them has been read (the file may then be closed and removed);
   * the entry is written later, in order.
   */
  async addFile(entry: PipelineEntry, handle: FileHandle): Promise<number> {
    let position = 0;
    await this.#addBlocks(entry, async () => {
      const buffer = this.#spare.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES);
      try {
        const filled = await readFull(handle, buffer, position);
        position += filled;
        return { block: buffer.subarray(0, filled), buffer };
      } catch (error) {
        this.#spare.push(buffer);
        throw error;
      }
    });
    return position;
  }

  /** Waits until every queued entry is written; rejects with the first failure. */
  async finish(): Promise<void> {
    if (!this.#failure) this.#jobs.close();
    await this.#consumer;
    if (this.#failure) throw this.#failure.error;
  }

  /** Stops after a failure (or for `reason`) and waits until nothing touches the writer. */
  async abandon(reason: unknown = new Error('archive pipeline abandoned')): Promise<void> {
    this.#fail(reason);
    await this.#consumer;
  }

  /** Reads blocks from `next` until one is shorter than BLOCK_BYTES, and queues them. */
  async #addBlocks(entry: PipelineEntry, next: () => Promise<{ block: Buffer; buffer?: Buffer }>) {
    const pieces = new AsyncQueue<Piece>();
    const job: Job = { kind: 'blocks', entry, pieces };
    this.#push(job);
    try {
      const hash = new Digester();
      const deflater =
        entry.method === 'deflate'
          ? new BlockDeflater(this.#options.pool, this.#options.level, this.#options.checkDeflate)
          : undefined;
      for (let final = false; !final; ) {
        await this.#acquire(BLOCK_BYTES);
        let read: { block: Buffer; buffer?: Buffer };
        try {
          read = await next();
        } catch (error) {
          this.#budget.release(BLOCK_BYTES);
          throw error;
        }
        const { block, buffer } = read;
        final = block.length < BLOCK_BYTES;
        hash.update(block);
        entry.onBytes?.(block.length);
        if (deflater) {
          const data = deflater.push(block, final);
          // The input is free again once compressed; the output is what waits to be written.
          if (buffer)
            void data.then(
              () => this.#spare.push(buffer),
              () => this.#spare.push(buffer),
            );
          pieces.push({ data: settled(data), cost: BLOCK_BYTES });
        } else {
          pieces.push({ data: Promise.resolve(block), cost: BLOCK_BYTES, ...(buffer ? { buffer } : {}) });
        }
      }
      job.digest = hash.digest();
      pieces.close();
    } catch (error) {
      pieces.fail(error);
      this.#fail(error);
      throw error;
    }
  }

  async #acquire(bytes: number): Promise<void> {
    if (this.#failure) throw this.#failure.error;
    await this.#budget.acquire(bytes, this.#options.signal);
  }

  #push(job: Job): void {
    if (this.#failure) throw this.#failure.error;
    this.#jobs.push(job);
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#budget.fail(error);
    this.#jobs.fail(error);
    if (this.#current?.kind === 'blocks') this.#current.pieces.fail(error);
  }

  async #consume(): Promise<void> {
    const writer = this.#writer;
    const signal = this.#options.signal;
    const timings = this.timings;
    const timed = async <T>(key: keyof PipelineTimings, work: Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work;
      } finally {
        timings[key] += performance.now() - started;
      }
    };
    try {
      const check = () => {
        // A failure elsewhere (the producer, abandon) may land between two awaits here.
        if (this.#failure) throw this.#failure.error;
        signal?.throwIfAborted();
      };
      for (
        let job = await timed('waitMs', this.#jobs.next());
        job;
        job = await timed('waitMs', this.#jobs.next())
      ) {
        this.#current = job;
        check();
        let written: WrittenEntry;
        if (job.kind === 'whole') {
          const data = await timed('waitMs', job.data);
          written = await timed('writeMs', writer.addCompressed(job.entry.name, data, job.digest, job.entry));
          this.#budget.release(job.cost);
        } else {
          await timed('writeMs', writer.beginEntry(job.entry.name, job.entry));
          for (
            let piece = await timed('waitMs', job.pieces.next());
            piece;
            piece = await timed('waitMs', job.pieces.next())
          ) {
            check();
            const data = await timed('waitMs', piece.data);
            await timed('writeMs', writer.writeData(data));
            if (piece.buffer) this.#spare.push(piece.buffer);
            this.#budget.release(piece.cost);
          }
          written = await timed('writeMs', writer.endEntry(job.digest as Digest));
        }
        this.#current = undefined;
        job.entry.onWritten?.(written);
      }
    } catch (error) {
      this.#fail(error);
    }
  }
}

/** `promise`, marked handled: a block that fails before the consumer reaches it is not "unhandled". */
function settled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Fills `buffer` from `position` until it is full or the file ends; returns the bytes read. */
async function readFull(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
