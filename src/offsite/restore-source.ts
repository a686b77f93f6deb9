import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { OffsiteMetadata } from './offsite-errors.js';

/** An object named by a `gs://bucket/object` URL. */
export interface GsUrl {
  bucket: string;
  objectName: string;
}

const BUCKET = /^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/;

/**
 * Parses `gs://bucket/path/name.zip` (taken literally, as gcloud does: no %-decoding). Throws
 * UsageError saying what is wrong: not gs://, a bad bucket name, no object, a folder, a wildcard,
 * or not a .zip archive.
 */
export function parseGsUrl(text: string): GsUrl {
  const bad = (why: string) =>
    new UsageError(`${JSON.stringify(text)} is not an archive in a bucket: ${why}`);
  if (!text.startsWith('gs://')) throw bad('expected gs://bucket/path/name.zip');
  const rest = text.slice('gs://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const objectName = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET.test(bucket)) {
    throw bad(`"${bucket}" is not a bucket name (3-63 lowercase letters, digits, "-", "_", ".")`);
  }
  if (objectName === '') throw bad('it names a bucket, not an object in it');
  if (objectName.endsWith('/')) throw bad('it names a folder, not an archive');
  if (/[\u0000-\u001f\u007f]/.test(objectName)) throw bad('the object name has control characters');
  if (/[*?[\]]/.test(objectName)) throw bad('wildcards are not taken: name one archive');
  if (!objectName.endsWith('.zip')) throw bad('expected a .zip archive');
  return { bucket, objectName };
}

/** An archive downloaded from a bucket to a temporary file, for a normal verified restore. */
export interface FetchedArchive extends GsUrl {
  /** The temporary file: read it, then call remove(). */
  file: string;
  /** The object downloaded: its generation, size, CRC32C and custom metadata. */
  object: ObjectInfo;
  /** What the uploader recorded (absent on an object runwarden did not upload). */
  archiveSha256?: string;
  manifestSha256?: string;
  /** Deletes the temporary file; idempotent. */
  remove(): Promise<void>;
}

/**
 * Downloads the archive a gs:// URL names into `stagingDir` (the restore's staging folder: the same
 * filesystem, not a small /tmp) as `.runwarden-tmp-<pid>-<random>-<name>`, the temp name the backup
 * folder's start-up cleanup removes once its process is gone, so a kill -9 leaves nothing behind for
 * long. The store's download checks the bytes against the object's CRC32C (RW_STORAGE_CORRUPT) and
 * pins the generation it stat'ed. `openStore` gives a store on that bucket with no prefix.
 * With `generation`, only that generation (a cataloged copy): RW_STORAGE_NOT_FOUND once it is gone.
 * Throws UsageError for a bad URL (before any request), and the store's RW_STORAGE_* errors.
 */
export async function restoreSource(
  url: string,
  openStore: (bucket: string) => Promise<ObjectStore>,
  stagingDir: string,
  signal: AbortSignal,
  options: { generation?: number } = {},
): Promise<FetchedArchive> {
  const where = parseGsUrl(url);
  const store = await openStore(where.bucket);
  const label = path.basename(where.objectName).replace(/[^A-Za-z0-9._-]/g, '_');
  const file = path.join(
    stagingDir,
    `.runwarden-tmp-${process.pid}-${randomBytes(4).toString('hex')}-${label}`,
  );
  const object = await store.download(where.objectName, file, signal, options);
  const archiveSha256 = object.metadata[OffsiteMetadata.archiveSha256];
  const manifestSha256 = object.metadata[OffsiteMetadata.manifestSha256];
  return {
    ...where,
    file,
    object,
    ...(archiveSha256 ? { archiveSha256 } : {}),
    ...(manifestSha256 ? { manifestSha256 } : {}),
    remove: () => rm(file, { force: true }),
  };
}
