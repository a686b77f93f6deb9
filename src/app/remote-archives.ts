import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import { FatalError } from '../core/errors.js';
import { offsiteStoreOptions } from '../offsite/offsite-options.js';
import { type FetchedArchive, parseGsUrl, restoreSource } from '../offsite/restore-source.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';

/** A store on a bucket (no prefix), as a gs:// URL names it. */
export type BucketOpener = (bucket: string) => Promise<ObjectStore>;

/**
 * Opens any bucket through the off-site config's endpoint and credentials (Google's endpoint and
 * Application Default Credentials without one): a gs:// URL may name another bucket than the
 * configured one, which works when the credentials may read it. The storage client loads here.
 */
export function bucketOpener(offsite: OffsiteConfig | undefined): BucketOpener {
  return async (bucket) => {
    const { openGcsObjectStore } = await import('../storage/gcs-object-store.js');
    const endpoint = offsite ? offsiteStoreOptions(offsite) : {};
    return openGcsObjectStore({ ...endpoint, bucket, prefix: '' });
  };
}

/** Whether a restore or import names an object in a bucket (a malformed gs: URL is one too: refused). */
export function isGsUrl(given: string): boolean {
  return /^gs:/i.test(given);
}

/** Where a restore's archive is: a local file, or an object to download first. */
export type ArchiveLocation =
  | { kind: 'local'; file: string }
  | {
      kind: 'remote';
      url: string;
      /** Only this generation (a cataloged copy); the live one when absent. */
      generation?: number;
      /** The catalog's row of a cataloged copy: the download must be its bytes. */
      record?: BackupRecord;
    };

/**
 * Resolves what `runwarden restore <backup>` names: a gs:// URL; an existing path; a file name (with
 * or without .zip) in the backup folder; or a cataloged archive whose file is gone but whose copy
 * is confirmed off-site (that exact generation). Throws UsageError for a bad gs:// URL and FatalError
 * RW_BACKUP_NOT_FOUND naming where it looked.
 */
export function locateArchive(given: string, backupDir: string, catalog: BackupsRepo): ArchiveLocation {
  if (isGsUrl(given)) {
    parseGsUrl(given); // a bad URL is a usage error before anything is opened
    return { kind: 'remote', url: given };
  }
  const candidates = [path.resolve(given), path.join(backupDir, given), path.join(backupDir, `${given}.zip`)];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found) return { kind: 'local', file: found };
  const record = catalog.list().find((row) => candidates.includes(row.file));
  const copy = record?.offsite;
  if (record && copy?.confirmedAt && copy.objectName && copy.generation !== null) {
    return { kind: 'remote', url: copy.objectName, generation: copy.generation, record };
  }
  const why = record
    ? `; the catalog lists it but its file is gone and it has no confirmed off-site copy`
    : '';
  throw new FatalError(
    'RW_BACKUP_NOT_FOUND',
    `backup ${given} not found (looked at ${candidates.join(', ')})${why}`,
  );
}

/** What fetching a remote archive needs. */
export interface ArchiveFileDeps {
  backup: BackupConfig;
  catalog: BackupsRepo;
  openBucket: BucketOpener;
  /** age identities (`--identity FILE`) for an encrypted copy (`.zip.age`). */
  identityFile?: string;
}

/** A downloaded archive, with the catalog row it must match when the catalog has its copy. */
export interface DownloadedArchive extends FetchedArchive {
  url: string;
  record?: BackupRecord;
}

/**
 * Downloads a remote archive into the backup folder under a temp name (CRC32C checked by the
 * store's download) for a normal verified restore; the caller removes it. The catalog row is the
 * located one, or the row whose confirmed copy is the generation downloaded.
 */
export async function downloadArchive(
  location: Extract<ArchiveLocation, { kind: 'remote' }>,
  deps: ArchiveFileDeps,
  signal: AbortSignal,
): Promise<DownloadedArchive> {
  await mkdir(deps.backup.dir, { recursive: true });
  const fetched = await restoreSource(location.url, deps.openBucket, deps.backup.dir, signal, {
    ...(location.generation === undefined ? {} : { generation: location.generation }),
    ...(deps.identityFile === undefined ? {} : { identityFile: deps.identityFile }),
  });
  const record =
    location.record ??
    deps.catalog
      .list()
      .find(
        (row) =>
          row.offsite?.confirmedAt &&
          row.offsite.objectName === location.url &&
          row.offsite.generation === fetched.object.generation,
      );
  return { ...fetched, url: location.url, ...(record ? { record } : {}) };
}

/**
 * The catalog a restore from a download reads: the temp file stands for its cataloged archive (so
 * the download must have the cataloged SHA-256), every other file as cataloged.
 */
export function catalogForDownload(
  catalog: BackupsRepo,
  downloaded: DownloadedArchive,
): Pick<BackupsRepo, 'get'> {
  const file = path.resolve(downloaded.file);
  return { get: (asked) => (asked === file ? downloaded.record : catalog.get(asked)) };
}

/**
 * Runs `work` on the archive a location names: a local file as it is; a remote one downloaded
 * first (to a temp file in the backup folder, removed after, however `work` ends), with the
 * catalog the restore must read it through.
 */
export async function withArchiveFile<T>(
  location: ArchiveLocation,
  deps: ArchiveFileDeps,
  signal: AbortSignal,
  work: (archive: {
    file: string;
    catalog: Pick<BackupsRepo, 'get'>;
    downloaded?: DownloadedArchive;
  }) => Promise<T>,
): Promise<T> {
  if (location.kind === 'local') return work({ file: location.file, catalog: deps.catalog });
  const downloaded = await downloadArchive(location, deps, signal);
  try {
    return await work({
      file: downloaded.file,
      catalog: catalogForDownload(deps.catalog, downloaded),
      downloaded,
    });
  } finally {
    await downloaded.remove();
  }
}
