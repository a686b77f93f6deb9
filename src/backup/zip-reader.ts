import type { Readable } from 'node:stream';
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
      entries.set(entry.fileName, entry);
    }
    return {
      file,
      entries,
      async open(entry, signal) {
        signal?.throwIfAborted();
        let stream: Readable;
        try {
          stream = await zip.openReadStreamPromise(entry);
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
