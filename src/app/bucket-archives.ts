import { copyFile, constants, link, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { importArchive } from '../backup/catalog.js';
import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import { FatalError } from '../core/errors.js';
import { offsiteObjectUrl } from '../offsite/offsite-options.js';
import { parseGsUrl, restoreSource } from '../offsite/restore-source.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import type { BucketOpener } from './remote-archives.js';

/**
 * `backups import gs://...`: downloads the archive into the backup folder under its own file name
 * (never over an existing file), verifies and catalogs it like a local import, and records its
 * copy as confirmed: the bytes just passed the object's CRC32C, and they are the generation
 * recorded. A download or verification that fails leaves nothing behind and records nothing.
 * Throws UsageError for a bad URL, FatalError RW_BACKUP_EXISTS when the name is taken, the store's
 * RW_STORAGE_* errors, and the verification's.
 */
export async function importFromBucket(
  url: string,
  deps: {
    backup: BackupConfig;
    catalog: BackupsRepo;
    openBucket: BucketOpener;
    now: () => Date;
    /** age identities for an encrypted copy (`.zip.age`): the plaintext archive is imported. */
    identityFile?: string;
  },
  signal: AbortSignal,
): Promise<BackupRecord> {
  const where = parseGsUrl(url);
  // The archive's own name: an encrypted copy's `.age` suffix is not part of it.
  const target = path.join(deps.backup.dir, where.archiveName);
  const taken = () =>
    new FatalError(
      'RW_BACKUP_EXISTS',
      `backups import ${url}: ${target} already exists; nothing was downloaded (import the local file, or move it away first)`,
    );
  if (existsSync(target)) throw taken();
  await mkdir(deps.backup.dir, { recursive: true });
  const fetched = await restoreSource(
    url,
    deps.openBucket,
    deps.backup.dir,
    signal,
    deps.identityFile === undefined ? {} : { identityFile: deps.identityFile },
  );
  try {
    await placeWithoutOverwrite(fetched.file, target, taken);
  } finally {
    await fetched.remove();
  }
  try {
    await importArchive(target, deps.catalog, { signal, now: deps.now });
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
  deps.catalog.confirmOffsite(target, {
    objectName: url,
    generation: fetched.object.generation,
    confirmedAt: deps.now(),
  });
  return deps.catalog.get(target) as BackupRecord;
}

/** A hard link fails when the name exists (no race with another writer); a copy where links are not. */
async function placeWithoutOverwrite(from: string, to: string, taken: () => Error): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw taken();
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw error;
    try {
      await copyFile(from, to, constants.COPYFILE_EXCL);
    } catch (copyError) {
      if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') throw taken();
      await rm(to, { force: true });
      throw copyError;
    }
  }
}

/** An archive object in the configured bucket, and whether the catalog has it confirmed. */
export interface BucketArchive {
  url: string;
  size: number;
  generation: number;
  /** ISO time of its last change. */
  updated: string;
  /** The cataloged archive whose confirmed copy is this generation, or null. */
  confirmedFor: string | null;
}

/** The archives (.zip objects, and .zip.age encrypted ones) under the configured prefix, newest first. */
export async function listBucketArchives(
  offsite: OffsiteConfig,
  store: ObjectStore,
  catalog: BackupsRepo,
  signal: AbortSignal,
): Promise<BucketArchive[]> {
  const confirmed = new Map<string, string>();
  for (const row of catalog.list()) {
    if (row.offsite?.confirmedAt && row.offsite.objectName)
      confirmed.set(`${row.offsite.objectName}#${row.offsite.generation}`, row.file);
  }
  const objects = (await store.list('', signal)).filter(
    (object) => object.name.endsWith('.zip') || object.name.endsWith('.zip.age'),
  );
  return objects
    .sort((a, b) => b.updated - a.updated || b.name.localeCompare(a.name))
    .map((object) => {
      const url = offsiteObjectUrl(offsite, object.name);
      return {
        url,
        size: object.size,
        generation: object.generation,
        updated: new Date(object.updated).toISOString(),
        confirmedFor: confirmed.get(`${url}#${object.generation}`) ?? null,
      };
    });
}
