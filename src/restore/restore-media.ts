import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import type { Manifest, ManifestEntry } from '../archive/manifest.js';
import type { RestoreProgress } from './restore-db.js';
import { fsyncDirectory, syncFiles, tempNameBeside, writeNewFile } from '../util/durable-fs.js';
import { assertNoLinkOnTheWay, resolveInside, UnsafeEntryError } from './restore-paths.js';
import { openZip, type ZipReader } from '../archive/zip-reader.js';

/** Reads (and writes) of a media file at most this large: a 3 MB image in 3 round trips, not 25. */
const MEDIA_CHUNK = 1024 * 1024;

/** Files written at once into a fresh staging folder (see MediaRestoreRequest.fresh). */
const FRESH_FILES_AT_ONCE = 4;

export interface MediaRestoreRequest {
  /** The verified archive. */
  archive: string;
  /** The archive already open (its manifest authenticated); left open. Default: opened here. */
  zip?: ZipReader;
  manifest: Manifest;
  /** The media folder to write into. */
  target: string;
  /** Write into a folder that already holds files (files the archive has are replaced). */
  force: boolean;
  /**
   * `target` does not exist and is this restore's own (a restore of several targets stages the
   * media there, then swaps the folder whole): each file is written straight under its name, with
   * no temp file and rename (nobody reads the folder before the swap), and all are fsynced together
   * at the end, with their folders, instead of one by one.
   */
  fresh?: boolean;
  signal: AbortSignal;
  onProgress?(progress: RestoreProgress): void;
}

export interface MediaRestoreResult {
  target: string;
  files: number;
  bytes: number;
}

/**
 * Writes every `media/...` entry of a verified archive into `target`. Every entry is checked before
 * the first byte is written, so a hostile archive writes nothing: names that would land outside
 * the folder (`..`, absolute, backslash) and folders on disk that are symlinks are refused
 * (UnsafeEntryError, RW_RESTORE_UNSAFE_ENTRY); an archive holding a symlink or special file entry
 * never gets this far (openZip refuses it, BackupCorruptError). Each file is
 * then written to a temp file beside its final name, checked against the manifest's SHA-256 and
 * size, fsynced and renamed over it; files the archive lacks are left in place. Without `force`, a
 * target folder that already holds anything is refused (RW_RESTORE_TARGET_EXISTS).
 */
export async function restoreMedia(request: MediaRestoreRequest): Promise<MediaRestoreResult> {
  const { archive, target, signal } = request;
  const progress = request.onProgress ?? (() => {});
  const wanted = request.manifest.entries.filter((entry) => entry.kind === 'media');
  const total = wanted.reduce((sum, entry) => sum + entry.size, 0);

  await assertMediaTargetFree(target, request.force);

  const zip = request.zip ?? (await openZip(archive));
  try {
    const planned: Array<{ entry: ManifestEntry; file: string }> = [];
    for (const entry of wanted) {
      const zipEntry = zip.entries.get(entry.path);
      if (!zipEntry)
        throw new UnsafeEntryError(entry.path, 'is listed in the manifest but not in the archive');
      const file = resolveInside(target, entry.path.slice('media/'.length), entry.path);
      await assertNoLinkOnTheWay(target, file, entry.path);
      planned.push({ entry, file });
    }

    let done = 0;
    const touchedDirs = new Set<string>();
    const fresh = request.fresh === true;
    const unsynced: string[] = [];
    // Into a fresh folder, several files at once: each file is a handful of thread-pool round trips
    // (local header, reads, writes, close) whose waits add up over hundreds of files. Into a live
    // folder, one at a time in the archive's order, as before. The first failure stops the others.
    const stop = new AbortController();
    const fileSignal = AbortSignal.any([signal, stop.signal]);
    const restoreOne = async ({ entry, file }: { entry: ManifestEntry; file: string }) => {
      fileSignal.throwIfAborted();
      await assertNoLinkOnTheWay(target, file, entry.path); // again: a folder may have changed since
      await mkdir(path.dirname(file), { recursive: true });
      const existing = await stat(file).catch(() => undefined);
      if (existing?.isDirectory()) throw new UnsafeEntryError(entry.path, `${file} is a folder`);
      if (fresh && existing) throw new UnsafeEntryError(entry.path, `${file} was written twice`);
      const temp = fresh ? file : tempNameBeside(file);
      let counted = 0;
      try {
        const source = await zip.open(
          zip.entries.get(entry.path) as NonNullable<ReturnType<typeof zip.entries.get>>,
          fileSignal,
          { chunkBytes: MEDIA_CHUNK },
        );
        const written = await writeNewFile(source, temp, {
          mode: existing ? existing.mode & 0o7777 : 0o644,
          signal: fileSignal,
          onBytes: (bytes) => {
            done += bytes - counted;
            counted = bytes;
            progress({ kind: 'bytes', done, total });
          },
          sync: !fresh,
        });
        if (written.sha256 !== entry.sha256 || written.bytes !== entry.size) {
          throw new FatalError(
            'RW_RESTORE_CHECKSUM',
            `media entry ${entry.path} of ${archive} changed since it was verified (${written.bytes} bytes, SHA-256 ${written.sha256}); stopped`,
          );
        }
        if (fresh) unsynced.push(file);
        else await rename(temp, file);
      } catch (error) {
        await rm(temp, { force: true });
        if (error instanceof FatalError || fileSignal.aborted) throw error;
        throw wrapError(`restore ${entry.path} to ${file}`, error, 'RW_RESTORE_IO');
      }
      touchedDirs.add(path.dirname(file));
    };
    const queue = [...planned];
    let failure: { error: unknown } | undefined;
    const lane = async () => {
      for (let next = queue.shift(); next && !failure; next = queue.shift()) {
        try {
          await restoreOne(next);
        } catch (error) {
          failure ??= { error };
          stop.abort(error);
        }
      }
    };
    await Promise.all(Array.from({ length: fresh ? FRESH_FILES_AT_ONCE : 1 }, lane));
    signal.throwIfAborted();
    if (failure) throw failure.error;
    if (fresh) {
      // Every folder from each file's up to the target: each was created here, its entry in its parent too.
      for (const dir of [...touchedDirs])
        for (let up = dir; up.startsWith(`${target}${path.sep}`); up = path.dirname(up)) touchedDirs.add(up);
      touchedDirs.add(target);
      await syncFiles(unsynced, touchedDirs);
    } else for (const dir of touchedDirs) await fsyncDirectory(dir);
    return { target, files: planned.length, bytes: done };
  } finally {
    if (!request.zip) zip.close();
  }
}

/** Throws RW_RESTORE_TARGET_EXISTS when `target` holds anything and `force` is false. */
export async function assertMediaTargetFree(target: string, force: boolean): Promise<void> {
  if (!force && (await holdsAnything(target))) {
    throw new FatalError(
      'RW_RESTORE_TARGET_EXISTS',
      `media folder ${target} already holds files; pass --force to write the archive's files into it (files it lacks are kept)`,
    );
  }
}

async function holdsAnything(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR')
      throw new FatalError('RW_RESTORE_TARGET_EXISTS', `media target ${dir} is not a folder`);
    throw wrapError(`read media folder ${dir}`, error, 'RW_RESTORE_IO');
  }
}
