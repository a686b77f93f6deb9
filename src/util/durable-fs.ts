import { createHash } from 'node:crypto';
import { chown, type FileHandle, lstat, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { FatalError, wrapError } from '../core/errors.js';
import { processTag, writerGone } from './liveness.js';
import { namesIn } from './temp-files.js';

/**
 * What streaming an entry to disk produced: the SHA-256 (hex), CRC-32 (unsigned) and length of
 * the bytes written, computed as they passed (the bytes are read from the archive once).
 */
export interface WrittenFile {
  sha256: string;
  crc32: number;
  bytes: number;
}

/**
 * Streams `source` into a NEW file `file` (created exclusively, so nothing existing is ever
 * overwritten here), hashing as it goes, then fsyncs and closes it. On any failure, including an
 * abort through `signal`, the half-written file is removed before the error is thrown.
 * `onBytes` is told the running total after each chunk (for progress). `sourceError` maps a failure
 * of `source` itself (a corrupt archive entry, as opposed to a local write failing) to the error
 * thrown; without it every failure is RW_RESTORE_IO. `sync: false` leaves the fsync to the caller
 * (syncFiles), which then syncs many files at once instead of waiting on each in turn.
 */
export async function writeNewFile(
  source: AsyncIterable<Buffer | Uint8Array> & Partial<Pick<Readable, 'destroy'>>,
  file: string,
  options: {
    mode?: number;
    signal?: AbortSignal;
    onBytes?: (total: number) => void;
    sourceError?: (error: unknown) => Error;
    sync?: boolean;
  } = {},
): Promise<WrittenFile> {
  const hash = createHash('sha256');
  let crc = 0;
  let bytes = 0;
  let reading = false;
  const handle = await open(file, 'wx', options.mode ?? 0o644).catch((error: unknown) => {
    throw wrapError(`create ${file}`, error, 'RW_RESTORE_IO');
  });
  const writes = new OverlappedWrites(handle);
  try {
    reading = true;
    for await (const chunk of source) {
      reading = false;
      options.signal?.throwIfAborted();
      hash.update(chunk);
      crc = crc32(chunk, crc);
      await writes.write(chunk);
      bytes += chunk.byteLength;
      options.onBytes?.(bytes);
      reading = true;
    }
    reading = false;
    await writes.drain();
    options.signal?.throwIfAborted();
    if (options.sync !== false) await handle.sync();
    await handle.close();
  } catch (error) {
    source.destroy?.();
    await writes.settle();
    await handle.close().catch(() => {});
    await rm(file, { force: true });
    if (error instanceof FatalError || options.signal?.aborted) throw error;
    if (reading && options.sourceError) throw options.sourceError(error);
    throw wrapError(`write ${file}`, error, 'RW_RESTORE_IO');
  }
  return { sha256: hash.digest('hex'), crc32: crc >>> 0, bytes };
}

/** Writes in flight at once: enough to keep the disk busy while the next chunk is inflated. */
const WRITE_DEPTH = 4;

/**
 * Writes chunks one after another into a file, each at its own offset, with up to WRITE_DEPTH
 * writes in flight: awaiting each write before reading the next chunk would leave the inflater
 * idle while the disk works (a 300 MB entry took twice as long). Chunks must not be reused by
 * their producer once handed over (zlib's and our readers' are not).
 */
class OverlappedWrites {
  readonly #handle: FileHandle;
  readonly #inFlight = new Set<Promise<void>>();
  #position = 0;
  #failure: { error: unknown } | undefined;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Queues `chunk`; resolves once fewer than WRITE_DEPTH writes are in flight. Throws a failed write's error. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    const done: Promise<void> = writeAt(this.#handle, chunk, this.#position).then(
      () => {
        this.#inFlight.delete(done);
      },
      (error: unknown) => {
        this.#inFlight.delete(done);
        this.#failure ??= { error };
      },
    );
    this.#position += chunk.byteLength;
    this.#inFlight.add(done);
    if (this.#inFlight.size >= WRITE_DEPTH) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.#throwIfFailed();
  }

  /** Waits for every write, failed or not (before the file is closed). */
  async settle(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

async function writeAt(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, position + offset);
    offset += bytesWritten;
  }
}

/** Files fsynced at once by syncFiles: the disk orders the writes back of several better than one by one. */
const SYNC_DEPTH = 8;

/**
 * fsyncs every file of `files` (written with `sync: false`), up to SYNC_DEPTH at a time; then every
 * folder of `folders`, once each. Throws the first failure (after the syncs in flight settle).
 */
export async function syncFiles(files: readonly string[], folders: Iterable<string> = []): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const handle = await open(files[next++] as string, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: SYNC_DEPTH }, worker));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  for (const folder of folders) await fsyncDirectory(folder);
}

/**
 * fsyncs a folder so a rename or unlink inside it survives a power cut (on Linux a rename is only
 * durable once the folder itself is synced).
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Gives `file` the owner of `like` when running as root: a DB restored by root for an app that runs
 * as another user must stay writable by that app.
 */
export async function copyOwnership(file: string, like: { uid: number; gid: number }): Promise<void> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  await chown(file, like.uid, like.gid);
}

/** Whether `file` exists (without following a final symlink). */
export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Temp files a restore writes beside its target: `.<name>.restore-<process tag>-<random>.tmp`. */
export function tempNameBeside(target: string): string {
  const random = Math.random().toString(36).slice(2, 10);
  return path.join(path.dirname(target), `.${path.basename(target)}.restore-${processTag()}-${random}.tmp`);
}

/**
 * `<file>.<process tag>.partial`: where `file` is written before it is renamed into place. The
 * writer's tag in the name lets a cleanup tell a killed writer's leftover from a live one's.
 */
export function partialNameOf(file: string): string {
  return `${file}.${processTag()}.partial`;
}

/** A restore's temp file (tempNameBeside) or its SQLite sidecar; group 1 is the writer's tag. */
const RESTORE_TEMP = /\.restore-([0-9a-fx.]+)-[a-z0-9]+\.tmp(?:-wal|-shm|-journal)?$/;
/** A safety copy being written (partialNameOf of `<db>.pre-restore-<stamp>`, safety-copy.ts). */
const SAFETY_COPY_PARTIAL =
  /\.pre-restore-\d{8}_\d{6}(?:-\d+)?(?:-wal|-journal)?\.(\d+\.(?:[0-9a-f]{8}|x)\.[0-9a-f]{8})\.partial(?:-wal|-shm|-journal)?$/;

/**
 * Of the file `names` in one folder, those that restores left when they were killed: temp files
 * and safety copies being written, whose writer ran on this host and is gone. Files of a restore
 * that is still running, or of another host, are not listed.
 */
export function staleRestoreFiles(names: readonly string[]): string[] {
  return names.filter((name) => {
    const tag = RESTORE_TEMP.exec(name)?.[1] ?? SAFETY_COPY_PARTIAL.exec(name)?.[1];
    return tag !== undefined && writerGone(tag);
  });
}

/**
 * Removes temp files (and their SQLite sidecars) that an earlier restore of `target` left behind
 * when it was killed; files of a restore that is still running, or of another host, are left alone.
 * Returns the names removed.
 */
export async function removeStaleTemps(target: string): Promise<string[]> {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.restore-`;
  const names = await namesIn(dir);
  const stale = staleRestoreFiles(names.filter((name) => name.startsWith(prefix) && RESTORE_TEMP.test(name)));
  for (const name of stale) await rm(path.join(dir, name), { force: true });
  return stale;
}

export const SQLITE_SIDECARS = ['-wal', '-shm', '-journal'] as const;
