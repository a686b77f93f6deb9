import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { processTag, writerGone } from './liveness.js';

/**
 * Temporary files of a backup or a verification live beside the archives (same filesystem, so a
 * 300 MB snapshot does not land in a small /tmp) under names that carry the owner process (pid,
 * start and host: see processTag). A run that was killed leaves them behind; `removeStaleTemps`
 * deletes those whose owner is gone.
 */
const TEMP_PREFIX = '.runwarden-tmp-';

/** A fresh temp path in `dir`: `.runwarden-tmp-<process tag>-<random>-<label>`. Nothing is created. */
export function tempPath(dir: string, label: string): string {
  return path.join(dir, `${TEMP_PREFIX}${processTag()}-${randomBytes(4).toString('hex')}-${label}`);
}

/** Deletes a SQLite file and the `-wal`, `-shm` and `-journal` files beside it; missing ones are fine. */
export async function removeDatabaseFiles(file: string): Promise<void> {
  await Promise.all(
    ['', '-wal', '-shm', '-journal'].map((suffix) =>
      rm(`${file}${suffix}`, { force: true, recursive: true }),
    ),
  );
}

/**
 * Removes temp files in `dir` left by processes of this host that no longer run, and (when `partials`
 * is true: the caller holds the backup lock, and only its holder writes archives, so the writer of
 * any `*.zip.partial` is gone) every `*.zip.partial`. Files of other hosts are left alone.
 * Returns the names removed.
 */
export async function removeStaleTemps(dir: string, partials: boolean): Promise<string[]> {
  const names = await namesIn(dir);
  const removed: string[] = [];
  for (const name of names) {
    const stale =
      (partials && name.endsWith(`.zip${PARTIAL_SUFFIX}`)) ||
      (name.startsWith(TEMP_PREFIX) && writerGone(name.slice(TEMP_PREFIX.length).split('-')[0] as string));
    if (!stale) continue;
    await rm(path.join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}

/** Appended to an archive's name while it is written (`<name>.zip.partial`); never a backup. */
export const PARTIAL_SUFFIX = '.partial';

/** The names in folder `dir`, or none when the folder does not exist (nothing was left there). */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
