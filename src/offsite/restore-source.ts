import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, UsageError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { tempPath } from '../util/temp-files.js';
import { decryptFile, type Identities, readIdentityFile } from './decrypt.js';
import { AGE_SUFFIX } from './encrypt.js';
import { OffsiteCode, OffsiteMetadata } from './offsite-errors.js';

/** An object named by a `gs://bucket/object` URL. */
export interface GsUrl {
  bucket: string;
  objectName: string;
  /** The name ends in `.zip.age`: a copy encrypted with age. */
  encrypted: boolean;
  /** The archive's file name: the object's last part, without `.age`. */
  archiveName: string;
}

const BUCKET = /^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/;

/**
 * Parses `gs://bucket/path/name.zip` or an encrypted copy's `gs://bucket/path/name.zip.age` (taken
 * literally, as gcloud does: no %-decoding). Throws UsageError saying what is wrong: not gs://, a
 * bad bucket name, no object, a folder, a wildcard, or not a .zip archive.
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
  const encrypted = objectName.endsWith(`.zip${AGE_SUFFIX}`);
  if (!objectName.endsWith('.zip') && !encrypted)
    throw bad('expected a .zip archive (or its encrypted copy, .zip.age)');
  const archiveName = path.basename(encrypted ? objectName.slice(0, -AGE_SUFFIX.length) : objectName);
  return { bucket, objectName, encrypted, archiveName };
}

/** An archive downloaded from a bucket to a temporary file, for a normal verified restore. */
export interface FetchedArchive extends GsUrl {
  /** The temporary file (the plaintext ZIP, decrypted when the copy was encrypted): read it, then call remove(). */
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
 * An encrypted copy (`.zip.age`, or `encryption: age` metadata) needs `identityFile` (age's identity
 * file, `--identity`): it is read before any request, the ciphertext is downloaded as above, then
 * decrypted (streaming) to a second temp file, whose SHA-256 must equal the object's
 * `archive_sha256`; the ciphertext is removed either way, and `file` is the plaintext ZIP.
 * Throws UsageError for a bad URL or identity file, and for an encrypted copy without identity
 * ("this copy is encrypted; pass --identity FILE") or one none of the identities opens (all before
 * the restore touches anything); FatalError RW_OFFSITE_DECRYPT for a damaged ciphertext,
 * RW_OFFSITE_MISMATCH for a plaintext that is not the archive the metadata names; and the store's
 * RW_STORAGE_* errors.
 */
export async function restoreSource(
  url: string,
  openStore: (bucket: string) => Promise<ObjectStore>,
  stagingDir: string,
  signal: AbortSignal,
  options: RestoreSourceOptions = {},
): Promise<FetchedArchive> {
  const where = parseGsUrl(url);
  // Before any request: a missing key must not cost a download first.
  const identities = where.encrypted ? await identitiesFor(url, options.identityFile) : undefined;
  const store = await openStore(where.bucket);
  const label = path.basename(where.objectName).replace(/[^A-Za-z0-9._-]/g, '_');
  const file = path.join(
    stagingDir,
    `.runwarden-tmp-${process.pid}-${randomBytes(4).toString('hex')}-${label}`,
  );
  const object = await store.download(
    where.objectName,
    file,
    signal,
    options.generation === undefined ? {} : { generation: options.generation },
  );
  const archiveSha256 = object.metadata[OffsiteMetadata.archiveSha256];
  const manifestSha256 = object.metadata[OffsiteMetadata.manifestSha256];
  const fetched = {
    ...where,
    file,
    object,
    ...(archiveSha256 ? { archiveSha256 } : {}),
    ...(manifestSha256 ? { manifestSha256 } : {}),
    remove: () => rm(file, { force: true }),
  };
  const encrypted = where.encrypted || object.metadata[OffsiteMetadata.encryption] === 'age';
  if (!encrypted) return fetched;
  try {
    return await decrypted(
      { ...fetched, encrypted },
      identities ?? (await identitiesFor(url, options.identityFile)),
      stagingDir,
      url,
      signal,
    );
  } finally {
    await rm(file, { force: true });
  }
}

export interface RestoreSourceOptions {
  /** Only this generation (a cataloged copy). */
  generation?: number;
  /** An age identity file (`--identity FILE`): needed for an encrypted copy, unused otherwise. */
  identityFile?: string;
}

async function identitiesFor(url: string, identityFile: string | undefined): Promise<Identities> {
  if (identityFile === undefined)
    throw new UsageError(
      `${url}: this copy is encrypted; pass --identity FILE (an age identity file of a key it was encrypted to)`,
    );
  return readIdentityFile(identityFile);
}

/** The downloaded ciphertext decrypted to a temp file beside it, checked against archive_sha256. */
async function decrypted(
  fetched: FetchedArchive,
  identities: Identities,
  stagingDir: string,
  url: string,
  signal: AbortSignal,
): Promise<FetchedArchive> {
  const plain = tempPath(stagingDir, fetched.archiveName.replace(/[^A-Za-z0-9._-]/g, '_'));
  const { sha256 } = await decryptFile(fetched.file, identities, plain, url, signal);
  if (fetched.archiveSha256 !== undefined && sha256 !== fetched.archiveSha256) {
    await rm(plain, { force: true });
    throw new FatalError(
      OffsiteCode.mismatch,
      `${url} decrypts to bytes of SHA-256 ${sha256}, not the archive its metadata names (${fetched.archiveSha256})`,
    );
  }
  return { ...fetched, file: plain, remove: () => rm(plain, { force: true }) };
}
