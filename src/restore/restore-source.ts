import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import { statArchive } from '../archive/entry-check.js';
import type { Manifest } from '../archive/manifest.js';
import { readManifestWithDigest } from '../archive/manifest-read.js';
import { verifyArchive } from '../archive/verify.js';
import { openZip, type ZipReader } from '../archive/zip-reader.js';
import { sha256File } from '../util/file-hash.js';

/**
 * What a restore needs of the catalog: the row of an archive, and (optionally) a way to record the
 * manifest digest of a row cataloged without one.
 */
export type RestoreCatalog = Pick<BackupsRepo, 'get'> & Partial<Pick<BackupsRepo, 'recordManifestSha256'>>;

/**
 * How a restore established that the archive is the one that was backed up and verified:
 * - `catalog-manifest`: manifest.json's SHA-256 is the one the catalog recorded; the manifest is
 *   then trusted, and only the entries restored are read, each checked against it;
 * - `catalog-sha256`: the catalog row has no manifest digest (cataloged before migration 007):
 *   the whole file's SHA-256 is the one cataloged; the manifest's digest is recorded for next time;
 * - `full`: the archive is not in the catalog (or --verify-all): every entry is checked as
 *   `backups verify` does (CRC-32, SHA-256, integrity_check), then the whole file's SHA-256 against
 *   the catalog when it has a row.
 */
export type VerificationMethod = 'catalog-manifest' | 'catalog-sha256' | 'full';

/** An archive opened to restore from, its manifest authenticated. Close it when done. */
export interface SourceArchive {
  file: string;
  manifest: Manifest;
  /**
   * SHA-256 (hex) of the whole archive: computed (`catalog-sha256`, `full`), or the cataloged one
   * (`catalog-manifest`: the file is not hashed; its manifest is).
   */
  sha256: string;
  method: VerificationMethod;
  /**
   * Every database entry of this archive passed `integrity_check`: in this very open (`full`), or
   * when it was cataloged (a row whose verification passed and still stands). The bytes restored
   * are proven the same by their SHA-256 against the authenticated manifest, so a restore need only
   * run the cheaper `quick_check` on them.
   */
  integrityChecked: boolean;
  /** The open archive; entries are read through it (the file whose manifest was authenticated). */
  zip: ZipReader;
  close(): void;
}

export interface OpenSourceOptions {
  catalog?: RestoreCatalog;
  /** Check every entry of the archive even when the catalog knows it. */
  verifyAll?: boolean;
  signal: AbortSignal;
  /** Bytes checked so far of the bytes to check (full verification or whole-file hash). */
  onProgress?(done: number, total: number): void;
}

/**
 * Opens `archive` for a restore and authenticates its manifest (see VerificationMethod) without
 * touching anything on disk. Throws FatalError RW_BACKUP_NOT_FOUND when it does not exist,
 * RW_BACKUP_CHANGED when it is not the archive the catalog recorded (size, manifest digest or
 * whole-file SHA-256 differ), BackupCorruptError when it is damaged, BackupFormatError when its
 * manifest is newer than this runwarden.
 */
export async function openSourceArchive(archive: string, options: OpenSourceOptions): Promise<SourceArchive> {
  const size = await statArchive(archive);
  const record = options.catalog?.get(path.resolve(archive));
  if (!record || options.verifyAll) return fullyVerified(archive, record, options);
  if (size !== record.size) throw changed(archive, `it is ${size} bytes, the catalog says ${record.size}`);
  const zip = await openZip(archive);
  try {
    const read = await readManifestWithDigest(zip, options.signal);
    if (record.manifestSha256 !== null) {
      if (read.sha256 !== record.manifestSha256)
        throw changed(
          archive,
          `its manifest's SHA-256 is ${read.sha256}, the catalog says ${record.manifestSha256}`,
        );
      return source(
        archive,
        read.manifest,
        record.sha256,
        'catalog-manifest',
        zip,
        record.status === 'verified',
      );
    }
    // A row without a manifest digest: the whole file proves the manifest read above (read first,
    // through the same open file, so a change after the read shows in the hash).
    const sha256 = await hashFile(archive, size, options);
    if (sha256 !== record.sha256) {
      // Say what is wrong when the archive is damaged (as `backups verify` would); else it was replaced.
      await verifyArchive(archive, { signal: options.signal });
      throw changed(archive, `its SHA-256 is ${sha256}, the catalog says ${record.sha256}`);
    }
    options.catalog?.recordManifestSha256?.(record.file, record.sha256, read.sha256);
    return source(archive, read.manifest, sha256, 'catalog-sha256', zip, record.status === 'verified');
  } catch (error) {
    zip.close();
    throw error;
  }
}

async function fullyVerified(
  archive: string,
  record: BackupRecord | undefined,
  options: OpenSourceOptions,
): Promise<SourceArchive> {
  const verified = await verifyArchive(archive, { signal: options.signal, onProgress: options.onProgress });
  if (record && record.sha256 !== verified.sha256)
    throw changed(archive, `its SHA-256 is ${verified.sha256}, the catalog says ${record.sha256}`);
  // Entries are read again through a new handle: each is checked against this manifest as it is
  // written, so an archive changed after its verification is still refused.
  return source(archive, verified.manifest, verified.sha256, 'full', await openZip(archive), true);
}

function source(
  file: string,
  manifest: Manifest,
  sha256: string,
  method: VerificationMethod,
  zip: ZipReader,
  integrityChecked: boolean,
): SourceArchive {
  return { file, manifest, sha256, method, integrityChecked, zip, close: () => zip.close() };
}

function changed(archive: string, how: string): FatalError {
  return new FatalError(
    'RW_BACKUP_CHANGED',
    `backup ${archive} changed since it was cataloged: ${how}; refusing to restore from it. Nothing was changed.`,
  );
}

async function hashFile(file: string, size: number, options: OpenSourceOptions): Promise<string> {
  try {
    return await sha256File(file, {
      signal: options.signal,
      onProgress: (done) => options.onProgress?.(done, size),
    });
  } catch (error) {
    options.signal.throwIfAborted();
    throw wrapError(`read backup ${file}`, error, 'RW_BACKUP_IO');
  }
}
