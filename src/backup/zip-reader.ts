import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { errorMessage } from '../errors.js';
import { BackupCorruptError } from './errors.js';

/**
 * A ZIP opened for reading: its central directory read once, entries by name. yauzl validates
 * names (no absolute paths, no `..`) and entry sizes; it does not check CRC-32, callers do.
 */
export interface ZipReader {
  readonly file: string;
  /** Every entry by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, Entry>;
  /** The uncompressed bytes of `entry`; the stream is destroyed when `signal` aborts. */
  open(entry: Entry, signal?: AbortSignal): Promise<Readable>;
  close(): void;
}

/** Output chunk of the inflater: up to 1 MiB, but no bigger than the entry needs (small files). */
function inflateChunk(size: number): number {
  return Math.min(1024 * 1024, Math.max(16 * 1024, 2 ** Math.ceil(Math.log2(size + 1))));
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

/**
 * Opens `file` and reads its central directory. Throws BackupCorruptError when it is not a
 * readable ZIP, names an entry twice, or holds encrypted or directory entries.
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
  try {
    const entries = new Map<string, Entry>();
    for await (const entry of zip.eachEntry()) {
      if (entries.has(entry.fileName)) throw new BackupCorruptError(file, entry.fileName, 'appears twice');
      if (entry.fileName.endsWith('/'))
        throw new BackupCorruptError(file, entry.fileName, 'is a directory entry');
      if (entry.isEncrypted()) throw new BackupCorruptError(file, entry.fileName, 'is encrypted');
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
        throw new BackupCorruptError(
          file,
          entry.fileName,
          `uses ZIP compression method ${entry.compressionMethod}; only store and deflate are read`,
        );
      entries.set(entry.fileName, entry);
    }
    return {
      file,
      entries,
      async open(entry, signal) {
        signal?.throwIfAborted();
        let stream: Readable;
        try {
          // Inflate ourselves with 1 MiB output chunks: yauzl's inflater uses zlib's 16 KiB default,
          // which costs a thread-pool round trip per 16 KiB (seconds for a 300 MB database).
          const raw = await zip.openReadStreamPromise(entry, { decodeFileData: false });
          const guard = new SizeGuard(entry);
          // pipeline destroys every stage when one fails or the consumer destroys the last one;
          // the error itself reaches the consumer through `guard`.
          const stages =
            entry.compressionMethod === 8
              ? [raw, createInflateRaw({ chunkSize: inflateChunk(entry.uncompressedSize) }), guard]
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
      close() {
        if (zip.isOpen) zip.close();
      },
    };
  } catch (error) {
    zip.close();
    if (error instanceof BackupCorruptError) throw error;
    throw new BackupCorruptError(file, undefined, `bad central directory: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
