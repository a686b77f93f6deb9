import { availableParallelism } from 'node:os';
import { constants, createDeflateRaw, createInflateRaw } from 'node:zlib';

/** Deflate's window: a block may refer back this far, so this much history is its dictionary. */
export const DICTIONARY_BYTES = 32 * 1024;

/**
 * Compressed output arrives in chunks of this size, kept as they are (never concatenated). Just
 * below glibc's 128 KiB mmap threshold on purpose: freeing a larger buffer raises that threshold
 * for good, after which every large buffer we churn through lands in the heap, which keeps it; a
 * backup then ends tens of MiB above what it ever held at once. As large as that allows, since
 * each chunk costs a thread-pool round trip.
 */
export const OUTPUT_CHUNK = 120 * 1024;

/**
 * Runs raw-deflate jobs on libuv's thread pool (where zlib's asynchronous API compresses), at most
 * `concurrency` at once; later jobs wait in order. The bound keeps the pool's other threads free
 * for file reads and writes, and keeps one backup from taking more cores than the machine has.
 * The main thread only hands buffers over, so it stays free to read, hash and write.
 */
export class DeflatePool {
  /** Jobs compressing at once. */
  readonly concurrency: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  #busyMs = 0;

  constructor(concurrency = defaultDeflateConcurrency()) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError(`deflate concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /** Milliseconds of thread time spent in jobs so far (a timing mark: where a backup's time goes). */
  get busyMs(): number {
    return this.#busyMs;
  }

  /** Jobs compressing right now (at most `concurrency`). */
  get active(): number {
    return this.#running;
  }

  /**
   * Compresses `input` as a run of raw-deflate blocks that may refer back into `dictionary` (the
   * stream's previous bytes, at most 32 KiB used). With `final` false the output ends with a sync
   * flush: byte aligned and not final, so the next block's output can follow it. With `final` true
   * it ends the stream. Resolves the output as chunks of at most OUTPUT_CHUNK bytes, in order.
   * `input` must not change until the promise settles.
   */
  async deflate(
    input: Buffer,
    options: { level: number; dictionary?: Buffer; final: boolean; check?: boolean },
  ): Promise<Buffer[]> {
    if (this.#running >= this.concurrency) await new Promise<void>((wake) => this.#waiting.push(wake));
    this.#running++;
    const started = performance.now();
    try {
      return await new Promise<Buffer[]>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const deflater = createDeflateRaw({
          level: options.level,
          chunkSize: OUTPUT_CHUNK,
          finishFlush: options.final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
          ...(options.dictionary && options.dictionary.length > 0 ? { dictionary: options.dictionary } : {}),
        });
        deflater.on('data', (chunk: Buffer) => chunks.push(chunk));
        deflater.once('error', reject);
        deflater.once('end', () => resolve(chunks));
        deflater.end(input);
      }).then((chunks) => (options.check ? checkInflates(chunks, input, options) : chunks));
    } finally {
      this.#busyMs += performance.now() - started;
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

/** Thrown when compressed output does not inflate back to its input (zlib or memory at fault). */
export class DeflateCheckError extends Error {
  constructor(detail: string) {
    super(`compressed block does not inflate back to its input: ${detail}`);
    this.name = 'DeflateCheckError';
  }
}

/**
 * Proves `chunks` (raw deflate of `input`, primed with `dictionary`) inflate to exactly `input`:
 * the bytes about to be written decode to the bytes hashed into the manifest. Runs on the thread
 * pool like the deflate (inflating costs about a fifth of deflating); resolves `chunks`.
 */
function checkInflates(
  chunks: Buffer[],
  input: Buffer,
  options: { dictionary?: Buffer; final: boolean },
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const inflater = createInflateRaw({
      chunkSize: OUTPUT_CHUNK,
      // A block that is not the last ends with a sync flush, not the end of the stream.
      finishFlush: options.final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...(options.dictionary && options.dictionary.length > 0 ? { dictionary: options.dictionary } : {}),
    });
    let offset = 0;
    let problem: string | undefined;
    inflater.on('data', (chunk: Buffer) => {
      if (problem) return;
      const end = offset + chunk.length;
      if (end > input.length || !chunk.equals(input.subarray(offset, end)))
        problem = `bytes ${offset}-${end} differ (block of ${input.length} bytes)`;
      offset = end;
    });
    inflater.once('error', (error) => reject(new DeflateCheckError(error.message)));
    inflater.once('end', () => {
      if (!problem && offset !== input.length) problem = `${offset} bytes, the block has ${input.length}`;
      if (problem) reject(new DeflateCheckError(problem));
      else resolve(chunks);
    });
    for (const chunk of chunks) inflater.write(chunk);
    inflater.end();
  });
}

/**
 * One core per job, but leave at least one of libuv's threads (4 unless UV_THREADPOOL_SIZE says
 * otherwise) for file I/O, which shares the pool.
 */
export function defaultDeflateConcurrency(): number {
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(availableParallelism(), poolSize - 1));
}

/**
 * One raw-deflate stream compressed block by block in parallel, as pigz does: each block is
 * deflated on its own with the previous 32 KiB of input as its dictionary and ends with a sync
 * flush (the last one with finish), so the outputs, concatenated in the order `push` was called,
 * are one valid stream that any inflater reads, and compress about as well as one long deflate.
 */
export class BlockDeflater {
  #history = Buffer.alloc(0);
  #ended = false;

  constructor(
    private readonly pool: DeflatePool,
    private readonly level: number,
    /** Inflate each block's output and compare it with the block (see checkInflates). */
    private readonly check = false,
  ) {}

  /**
   * Queues the stream's next `block` (in order; at least one call, `final` on the last, which may
   * be empty) and resolves its compressed bytes (in chunks). The promises may settle out of order;
   * their results must be written in call order. `block` must not change until its promise settles.
   */
  push(block: Buffer, final: boolean): Promise<Buffer[]> {
    if (this.#ended) throw new Error('BlockDeflater: push after the final block');
    this.#ended = final;
    const dictionary = this.#history;
    // A copy: the caller may reuse `block` once it is compressed, but the next block needs these.
    if (!final)
      this.#history =
        block.length >= DICTIONARY_BYTES
          ? Buffer.from(block.subarray(block.length - DICTIONARY_BYTES))
          : Buffer.concat([dictionary, block]).subarray(-DICTIONARY_BYTES);
    return this.pool.deflate(block, { level: this.level, dictionary, final, check: this.check });
  }
}
