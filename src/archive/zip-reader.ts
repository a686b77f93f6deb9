import { type FileHandle, open } from 'node:fs/promises';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createInflateRaw, inflateRaw } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { irregularEntryProblem } from '../core/zip-entry-type.js';
import { errorMessage } from '../core/errors.js';
import { BackupCorruptError } from './errors.js';
import { type Digest, Digester, discard, HashingStream } from './hashing.js';

/**
 * A ZIP opened for reading: its central directory read once, entries by name. yauzl validates
 * names (no absolute paths, no `..`) and entry sizes; it does not check CRC-32, callers do.
 */
export interface ZipReader {
  readonly file: string;
  /** Every entry by name, in central-directory order; each is a regular file (see openZip). */
  readonly entries: ReadonlyMap<string, Entry>;
  /**
   * The uncompressed bytes of `entry`; the stream is destroyed when `signal` aborts. `chunkBytes`
   * (default 120 KiB) bounds each read and inflated chunk: a one-shot reader of one large entry (a
   * restore) takes 1 MiB, a fifth less CPU for a 300 MB database.
   */
  open(entry: Entry, signal?: AbortSignal, options?: { chunkBytes?: number }): Promise<Readable>;
  /**
   * Size, SHA-256 and CRC-32 of the uncompressed `entry`, the cheapest way: small entries are read
   * whole and stored ones in chunks into one buffer, so a folder of media files costs no stream per
   * file; only large deflated entries are streamed. `onBytes` sees progress. Rejects with
   * BackupCorruptError when the data cannot be read or holds more bytes than the directory says
   * (an error with a `syscall` when the file system failed); the caller compares the digest, its
   * size too, with what it expects.
   */
  digest(entry: Entry, signal?: AbortSignal, onBytes?: (bytes: number) => void): Promise<Digest>;
  /** Closes the archive once reads still in flight (of destroyed streams too) have finished. */
  close(): void;
}

const inflateRawAsync = promisify(inflateRaw);

/**
 * Entries are read and inflated in chunks of up to 120 KiB: just below glibc's 128 KiB mmap
 * threshold, so the chunks we churn through are reused by malloc rather than raising the threshold
 * (see OUTPUT_CHUNK in deflate-pool.ts), and as large as that allows, since each inflated chunk
 * costs a thread-pool round trip.
 */
const READ_CHUNK = 120 * 1024;

/** Entries up to this size (compressed and not) are read whole by `digest`. */
const WHOLE_ENTRY_BYTES = READ_CHUNK;

/** Chunk for `size` bytes: `limit` (READ_CHUNK), or less for a small entry. */
function chunkFor(size: number, limit = READ_CHUNK): number {
  return Math.min(limit, Math.max(1024, size));
}

/**
 * Fails the stream when an entry yields more or fewer bytes than its central directory says, so a
 * hostile entry cannot inflate without bound (a "zip bomb") before any hash is checked.
 */
class SizeGuard extends Transform {
  #seen = 0;

  constructor(private readonly entry: Entry) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.entry.uncompressedSize)
      callback(new Error(`more than the ${this.entry.uncompressedSize} bytes the ZIP declares`));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen < this.entry.uncompressedSize)
      callback(
        new Error(`${this.#seen} bytes, fewer than the ${this.entry.uncompressedSize} the ZIP declares`),
      );
    else callback();
  }
}

/** `length` bytes of `handle` from `start`, in chunks of up to `chunk` bytes. */
async function* readRange(handle: FileHandle, start: number, length: number, chunk: number) {
  for (let position = start, end = start + length; position < end; ) {
    const buffer = Buffer.allocUnsafe(Math.min(chunk, end - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) throw new Error('the archive ends inside this entry');
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * Opens `file` and reads its central directory. Throws BackupCorruptError when it is not a
 * readable ZIP, names an entry twice, or holds an entry that is not a regular file (a symlink,
 * device, folder or unknown kind: see zipEntryType), is encrypted or uses a method other than
 * store or deflate. So every entry of a ZipReader is a regular file.
 */
export async function openZip(file: string): Promise<ZipReader> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(file, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: true,
      validateEntrySizes: true,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw error; // an fs error, not a bad archive
    throw new BackupCorruptError(file, undefined, `not a readable ZIP: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  let data: FileHandle | undefined;
  try {
    const entries = new Map<string, Entry>();
    for await (const entry of zip.eachEntry()) {
      if (entries.has(entry.fileName)) throw new BackupCorruptError(file, entry.fileName, 'appears twice');
      // Every entry, not only those a caller reads: an archive holding one is not one of ours, and
      // the kind is in the central directory, so judging it costs no read of entry data.
      const irregular = irregularEntryProblem(entry);
      if (irregular) throw new BackupCorruptError(file, entry.fileName, irregular);
      if (entry.isEncrypted()) throw new BackupCorruptError(file, entry.fileName, 'is encrypted');
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
        throw new BackupCorruptError(
          file,
          entry.fileName,
          `uses ZIP compression method ${entry.compressionMethod}; only store and deflate are read`,
        );
      entries.set(entry.fileName, entry);
    }
    // Entry data is read through a handle of our own, not yauzl's read streams: those share one
    // queue of reads, so parallel checks wait on each other, and one destroyed while its read is
    // queued throws from inside fs (an uncaught TypeError) when the read comes up. A FileHandle
    // reads in parallel and closes only once its reads in flight have finished. (Not through
    // FileHandle.createReadStream: each such stream leaves a listener on the handle.)
    const handle = await open(file, 'r');
    data = handle;
    const reader: ZipReader = {
      file,
      entries,
      async open(entry, signal, options) {
        signal?.throwIfAborted();
        const limit = options?.chunkBytes ?? READ_CHUNK;
        let stream: Readable;
        try {
          // yauzl checks the local header's signature and that the data lies inside the file.
          const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
          const raw = Readable.from(
            readRange(handle, fileDataStart, entry.compressedSize, chunkFor(entry.compressedSize, limit)),
          );
          const guard = new SizeGuard(entry);
          // Inflate ourselves with 1 MiB output chunks: zlib's 16 KiB default costs a thread-pool
          // round trip per 16 KiB (seconds for a 300 MB database). pipeline destroys every stage
          // when one fails or the consumer destroys the last one; the error itself reaches the
          // consumer through `guard`.
          const stages =
            entry.compressionMethod === 8
              ? [raw, createInflateRaw({ chunkSize: chunkFor(entry.uncompressedSize, limit) }), guard]
              : [raw, guard];
          pipeline(stages, () => {});
          stream = guard;
        } catch (error) {
          throw new BackupCorruptError(file, entry.fileName, `cannot be read: ${errorMessage(error)}`, {
            cause: error,
          });
        }
        if (signal) {
          const onAbort = () => stream.destroy(signal.reason as Error);
          signal.addEventListener('abort', onAbort, { once: true });
          stream.once('close', () => signal.removeEventListener('abort', onAbort));
        }
        return stream;
      },
      async digest(entry, signal, onBytes) {
        signal?.throwIfAborted();
        const streamed = entry.compressionMethod === 8 && entry.compressedSize > WHOLE_ENTRY_BYTES;
        if (streamed) {
          const hasher = new HashingStream(onBytes);
          await streamPipeline(await reader.open(entry, signal), hasher, discard(), { signal });
          return hasher.digest();
        }
        const corrupt = (problem: string, cause?: unknown) =>
          new BackupCorruptError(file, entry.fileName, problem, { cause });
        const digester = new Digester();
        try {
          const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
          const buffer = Buffer.allocUnsafe(chunkFor(entry.compressedSize));
          for (let done = 0; done < entry.compressedSize; ) {
            signal?.throwIfAborted();
            const want = Math.min(buffer.length, entry.compressedSize - done);
            const { bytesRead } = await handle.read(buffer, 0, want, fileDataStart + done);
            if (bytesRead === 0) throw new Error('the archive ends inside this entry');
            done += bytesRead;
            // Deflated entries get here only when small: then the buffer holds all of it.
            const chunk =
              entry.compressionMethod === 8
                ? done < entry.compressedSize
                  ? undefined
                  : await inflateRawAsync(buffer.subarray(0, done), {
                      // One byte more than declared is enough to tell an entry that inflates too far.
                      maxOutputLength: Math.max(1, entry.uncompressedSize + 1),
                    })
                : buffer.subarray(0, bytesRead);
            if (chunk) {
              digester.update(chunk);
              onBytes?.(chunk.length);
            }
          }
        } catch (error) {
          signal?.throwIfAborted();
          if ((error as NodeJS.ErrnoException).syscall) throw error; // our disk, not the archive's data
          throw corrupt(`cannot be read: ${errorMessage(error)}`, error);
        }
        return digester.digest();
      },
      close() {
        if (zip.isOpen) zip.close();
        void handle.close().catch(() => undefined);
      },
    };
    return reader;
  } catch (error) {
    zip.close();
    await data?.close();
    if (error instanceof BackupCorruptError) throw error;
    throw new BackupCorruptError(file, undefined, `bad central directory: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
