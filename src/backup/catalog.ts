import { errorMessage, RunwardenError } from '../core/errors.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import type { Manifest } from '../archive/manifest.js';
import { readManifestDigest } from '../archive/manifest-read.js';
import { verifyArchive } from '../archive/verify.js';

/** The outcome of re-verifying one archive. */
export interface VerifyOutcome {
  file: string;
  ok: boolean;
  /** Whether the catalog has (and now reflects) this archive. */
  cataloged: boolean;
  sha256?: string;
  entries?: number;
  error?: string;
  code?: string;
}

/**
 * Re-verifies `file` and records the result in the catalog when it is cataloged: a pass marks it
 * verified again (and records its manifest's SHA-256 when the row lacks it, so restores from it
 * need not hash the whole archive); a failure (corrupt, missing, or a file whose SHA-256 is no
 * longer the one cataloged) clears its verified mark, so retention and restore stop trusting it.
 * Never throws for a bad archive; the outcome says what was wrong.
 */
export async function verifyCataloged(
  file: string,
  catalog: BackupsRepo,
  options: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<VerifyOutcome> {
  const record = catalog.get(file);
  try {
    // Read before the verification, so the digest recorded is of the manifest the hash covers.
    const manifest =
      record?.manifestSha256 === null ? await readManifestDigest(file, options.signal) : undefined;
    const verified = await verifyArchive(file, { signal: options.signal });
    if (record && record.sha256 !== verified.sha256) {
      throw new RunwardenError(
        'RW_BACKUP_CHANGED',
        `backup ${file} changed since it was cataloged: its SHA-256 is ${verified.sha256}, the catalog says ${record.sha256}`,
      );
    }
    if (record) catalog.markVerified(file, (options.now ?? (() => new Date()))());
    if (record && manifest && sameManifest(manifest.manifest, verified.manifest))
      catalog.recordManifestSha256(file, record.sha256, manifest.sha256);
    return {
      file,
      ok: true,
      cataloged: record !== undefined,
      sha256: verified.sha256,
      entries: verified.manifest.entries.length,
    };
  } catch (error) {
    options.signal?.throwIfAborted();
    if (record) catalog.markFailed(file, errorMessage(error));
    return {
      file,
      ok: false,
      cataloged: record !== undefined,
      error: errorMessage(error),
      code: error instanceof RunwardenError ? error.code : 'RW_FAILED',
    };
  }
}

/**
 * Verifies an archive the catalog lacks (or re-verifies one it has) and catalogs it with the
 * reason, trigger and times of its manifest. Throws BackupCorruptError (and nothing is recorded)
 * when it fails verification.
 */
export async function importArchive(
  file: string,
  catalog: BackupsRepo,
  options: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<BackupRecord> {
  // Read before the verification, so the digest recorded is of the manifest the hash covers.
  const read = await readManifestDigest(file, options.signal);
  const verified = await verifyArchive(file, { signal: options.signal });
  const { manifest } = verified;
  if (!sameManifest(read.manifest, manifest)) {
    throw new RunwardenError(
      'RW_BACKUP_CHANGED',
      `backup ${file} changed while it was being verified; nothing was recorded. Import it again.`,
    );
  }
  const existing = catalog.get(file);
  return catalog.record({
    file,
    size: verified.size,
    sha256: verified.sha256,
    manifestSha256: read.sha256,
    reason: manifest.reason,
    trigger: manifest.trigger,
    startedAt: new Date(manifest.started_at),
    finishedAt: new Date(manifest.finished_at),
    entries: manifest.entries.length,
    verifiedAt: (options.now ?? (() => new Date()))(),
    imported: existing ? existing.imported : true,
  });
}

/** Whether two parsed manifests say the same (both parsed by one schema: same key order). */
function sameManifest(a: Manifest, b: Manifest): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
