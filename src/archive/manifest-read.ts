import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../core/errors.js';
import { hex } from './entry-check.js';
import { BackupCorruptError, BackupFormatError } from './errors.js';
import { HashingStream } from './hashing.js';
import {
  MANIFEST_ENTRY,
  MANIFEST_FORMAT_VERSION,
  MANIFEST_MAX_BYTES,
  type Manifest,
  manifestSchema,
} from './manifest.js';
import { openZip, type ZipReader } from './zip-reader.js';

/** A manifest as read from an archive, with the digest of its exact bytes. */
export interface ManifestRead {
  manifest: Manifest;
  /** SHA-256 (hex) of manifest.json's uncompressed bytes: what the catalog records. */
  sha256: string;
  /** Uncompressed size of manifest.json in bytes. */
  size: number;
}

/**
 * Reads manifest.json from an open archive, checks its CRC-32 against the central directory and
 * validates it, and returns it with the SHA-256 of its bytes, so a caller can authenticate it
 * against the catalog before trusting what it says about the other entries. Throws
 * BackupCorruptError (missing, too large, unreadable, not JSON, not the schema) or
 * BackupFormatError (a format_version newer than this runwarden reads).
 */
export async function readManifestWithDigest(
  zip: Pick<ZipReader, 'file' | 'entries' | 'open'>,
  signal?: AbortSignal,
): Promise<ManifestRead> {
  const entry = zip.entries.get(MANIFEST_ENTRY);
  const corrupt = (problem: string, cause?: unknown) =>
    new BackupCorruptError(zip.file, MANIFEST_ENTRY, problem, { cause });
  if (!entry) throw new BackupCorruptError(zip.file, undefined, `has no ${MANIFEST_ENTRY}`);
  if (entry.uncompressedSize > MANIFEST_MAX_BYTES)
    throw corrupt(`is ${entry.uncompressedSize} bytes, more than the ${MANIFEST_MAX_BYTES} accepted`);
  const hasher = new HashingStream();
  const chunks: Buffer[] = [];
  try {
    await pipeline(
      await zip.open(entry, signal),
      hasher,
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk);
      },
      { signal },
    );
  } catch (error) {
    signal?.throwIfAborted();
    if (error instanceof BackupCorruptError) throw error;
    throw corrupt(`cannot be read: ${errorMessage(error)}`, error);
  }
  const digest = hasher.digest();
  if (digest.crc32 !== entry.crc32 >>> 0)
    throw corrupt(`CRC-32 of the data is ${hex(digest.crc32)}, the ZIP says ${hex(entry.crc32)}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw corrupt(`is not valid JSON: ${errorMessage(error)}`, error);
  }
  const version = (json as { format_version?: unknown } | null)?.format_version;
  if (typeof version === 'number' && version > MANIFEST_FORMAT_VERSION)
    throw new BackupFormatError(zip.file, version, MANIFEST_FORMAT_VERSION);
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`,
    );
    throw corrupt(`does not match the manifest schema: ${problems.slice(0, 5).join('; ')}`);
  }
  return { manifest: parsed.data, sha256: digest.sha256, size: digest.size };
}

/** readManifestWithDigest on the archive at `file` (opened and closed here). */
export async function readManifestDigest(file: string, signal?: AbortSignal): Promise<ManifestRead> {
  const zip = await openZip(file);
  try {
    return await readManifestWithDigest(zip, signal);
  } finally {
    zip.close();
  }
}
