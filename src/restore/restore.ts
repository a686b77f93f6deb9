import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { errorMessage, wrapError } from '../core/errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { RestoreKind, RestoresRepo } from '../store/restores-repo.js';
import type { ManifestEntry } from '../archive/manifest.js';
import {
  assertDatabaseTargetReplaceable,
  commitDatabase,
  type PreparedDatabase,
  prepareDatabase,
  type RestoreProgress,
} from './restore-db.js';
import { checkEntryToRestore, hashEntries } from './restore-entries.js';
import { assertMediaTargetFree, restoreMedia } from './restore-media.js';
import { pausePoint } from './restore-pause.js';
import {
  openSourceArchive,
  type RestoreCatalog,
  type SourceArchive,
  type VerificationMethod,
} from './restore-source.js';
import { entryFor, type RestoreSelection, resolveTarget } from './restore-targets.js';

/**
 * A restored database is read in 1 MiB chunks: one entry, read once, where the reader's default
 * 64 KiB costs a fifth more CPU (a thread-pool round trip and a write per chunk).
 */
const ENTRY_CHUNK = 1024 * 1024;

/** Everything one restore needs; the CLI (or a test) builds it. */
export interface RestoreRequest {
  /** Path of the archive to restore from. */
  archive: string;
  /**
   * What the archive is called in the outcome, the records and the events when `archive` is a
   * temporary copy (a gs:// URL downloaded to it); `archive` by default.
   */
  archiveLabel?: string;
  selection: RestoreSelection;
  /** Resolved (absolute) `backup.sources`: where the main DB, tenants and media live. */
  sources: BackupSourcesConfig;
  /** --target: a database file (db, tenant) or a folder (media) instead of the configured one. */
  target?: string;
  force: boolean;
  signal: AbortSignal;
  /** Clock for the safety copy's name and the records; default `new Date()`. */
  now?: () => Date;
  /**
   * The backup catalog. When it lists the archive, the archive must still be the one cataloged
   * (RW_BACKUP_CHANGED otherwise): its manifest's SHA-256 (or, for a row without one, the whole
   * file's) must match, and then only the restored entries are read, each checked against that
   * manifest. An archive it does not list (or no catalog) gets the full verification.
   */
  catalog?: RestoreCatalog;
  /** Verify every entry of the archive even when the catalog lists it (--verify-all). */
  verifyAll?: boolean;
  /** Records the restore and its safety copy (the `restores` table); optional for tests. */
  restores?: RestoresRepo;
  events?: EventBus;
  onProgress?(progress: RestoreProgress | { kind: 'verify'; done: number; total: number }): void;
  /**
   * Takes a full backup of the current data after the archive is verified and before anything is
   * overwritten; returns the archive written. Omitted: no pre-restore backup (--no-backup).
   */
  preRestoreBackup?(signal: AbortSignal): Promise<string>;
  /**
   * Takes the backup lock, after the pre-restore backup (which takes it itself) and before anything
   * is overwritten; released when the restore ends. Omitted: the caller already holds it.
   */
  lock?(signal: AbortSignal): Promise<{ release(): void }>;
}

/** What a finished restore did; printed by the CLI (`--json` prints this object). */
export interface RestoreOutcome {
  archive: string;
  /** The archive's SHA-256: as cataloged when only its manifest was hashed (see verification). */
  archiveSha256: string;
  kind: RestoreKind;
  name: string;
  entry: string;
  target: string;
  safetyCopy: string | null;
  safetyCopyMethod: 'snapshot' | 'raw-copy' | 'link' | null;
  preRestoreBackup: string | null;
  removedSidecars: string[];
  files: number;
  bytes: number;
  restoreId: number | null;
  /**
   * How the archive was trusted (see VerificationMethod) and the entries whose size, CRC-32 and
   * SHA-256 were checked against the manifest for this restore (a database's also passed
   * integrity_check). With `full`, every other entry of the archive was checked too.
   */
  verification: { method: VerificationMethod; entries: string[] };
}

/**
 * Restores one database or the media folder from an archive, verifying what it restores before
 * anything is overwritten:
 * 1. the archive is opened and its manifest authenticated (openSourceArchive: against the catalog,
 *    or by the full verification for an archive the catalog lacks);
 * 2. each entry to restore is checked in the central directory against the manifest (name, file
 *    type, method, size, CRC-32);
 * 3. a database entry is streamed into a temp file beside the target, its size, CRC-32 and SHA-256
 *    checked as it passes, then read back and integrity-checked (prepareDatabase); media entries
 *    are hashed before the first file is written.
 * A corrupt or tampered archive is refused there with the reason (BackupCorruptError,
 * RW_BACKUP_CHANGED) and nothing on disk is touched. Then, when asked, a full pre-restore backup
 * is taken, the backup lock is taken (so no backup reads a database while it is replaced, and no
 * two restores overlap), and the database is put in place (commitDatabase: safety copy first,
 * atomic rename), or the media files are written as restoreMedia describes. Emits
 * restore:completed or restore:failed.
 */
export async function runRestore(request: RestoreRequest): Promise<RestoreOutcome> {
  const now = request.now ?? (() => new Date());
  const startedAt = Date.now();
  const { signal } = request;
  const resolved = resolveTarget(request.selection, request.sources, request.target);
  const archiveName = request.archiveLabel ?? request.archive;
  let restoreId: number | undefined;
  let lock: { release(): void } | undefined;
  let source: SourceArchive | undefined;
  let prepared: PreparedDatabase | undefined;
  try {
    // Refuse an occupied target before reading the archive and before the pre-restore backup.
    if (resolved.kind === 'media') await assertMediaTargetFree(resolved.target, request.force);
    else await assertDatabaseTargetReplaceable(resolved.target, request.force);
    const onVerify = (done: number, total: number) => request.onProgress?.({ kind: 'verify', done, total });
    source = await openSourceArchive(request.archive, {
      catalog: request.catalog,
      verifyAll: request.verifyAll,
      signal,
      onProgress: onVerify,
    });
    const { zip, manifest } = source;
    const plan = entryFor(resolved, manifest, archiveName);
    const entries = manifest.entries.filter((entry) =>
      plan.kind === 'media' ? entry.kind === 'media' : entry.path === plan.entry,
    );
    const records = entries.map((entry) => checkEntryToRestore(zip, entry));
    if (plan.kind === 'media' && source.method === 'catalog-manifest') {
      // Every media file is checked before the first is written: a damaged one writes nothing.
      await hashEntries(zip, entries, signal, onVerify);
    }
    request.onProgress?.({ kind: 'step', step: 'verified' });
    await pausePoint('verified');

    if (plan.kind !== 'media') {
      const entry = entries[0] as ManifestEntry;
      const record = records[0] as (typeof records)[number];
      prepared = await prepareDatabase({
        target: plan.target,
        openEntry: (entrySignal) => zip.open(record, entrySignal, { chunkBytes: ENTRY_CHUNK }),
        source: { archive: archiveName, entry },
        force: request.force,
        signal,
        onProgress: request.onProgress,
      });
    }

    restoreId = request.restores?.start({
      archive: archiveName,
      archiveSha256: source.sha256,
      kind: plan.kind,
      name: plan.name,
      target: plan.target,
      at: now(),
    });
    const outcome: RestoreOutcome = {
      archive: archiveName,
      archiveSha256: source.sha256,
      kind: plan.kind,
      name: plan.name,
      entry: plan.entry,
      target: plan.target,
      safetyCopy: null,
      safetyCopyMethod: null,
      preRestoreBackup: null,
      removedSidecars: [],
      files: 0,
      bytes: 0,
      restoreId: restoreId ?? null,
      verification: { method: source.method, entries: entries.map((entry) => entry.path) },
    };
    if (request.preRestoreBackup) {
      try {
        outcome.preRestoreBackup = await request.preRestoreBackup(signal);
      } catch (error) {
        throw wrapError(
          'take the pre-restore backup (pass --no-backup to skip it)',
          error,
          'RW_RESTORE_PRE_BACKUP',
        );
      }
      if (restoreId !== undefined)
        request.restores?.recordPreRestoreBackup(restoreId, outcome.preRestoreBackup);
    }
    lock = await request.lock?.(signal);

    if (prepared === undefined) {
      const media = await restoreMedia({
        archive: request.archive,
        zip,
        manifest,
        target: plan.target,
        force: request.force,
        signal,
        onProgress: request.onProgress,
      });
      outcome.files = media.files;
      outcome.bytes = media.bytes;
    } else {
      const db = await commitDatabase(prepared, {
        force: request.force,
        now: now(),
        signal,
        onSafetyCopy: (copy) => {
          outcome.safetyCopy = copy.file;
          outcome.safetyCopyMethod = copy.method;
          if (restoreId !== undefined) request.restores?.recordSafetyCopy(restoreId, copy.file, copy.method);
        },
        onProgress: request.onProgress,
      });
      prepared = undefined;
      outcome.files = 1;
      outcome.bytes = db.bytes;
      outcome.removedSidecars = db.removedSidecars;
    }
    if (restoreId !== undefined) request.restores?.finish(restoreId, { result: 'completed', at: now() });
    request.events?.emit('restore:completed', {
      archive: outcome.archive,
      kind: outcome.kind,
      name: outcome.name,
      target: outcome.target,
      safetyCopy: outcome.safetyCopy,
      durationMs: Date.now() - startedAt,
    });
    return outcome;
  } catch (error) {
    await prepared?.discard();
    if (restoreId !== undefined) {
      request.restores?.finish(restoreId, { result: 'failed', error: errorMessage(error), at: now() });
    }
    request.events?.emit('restore:failed', {
      archive: archiveName,
      kind: resolved.kind,
      name: resolved.name,
      target: resolved.target,
      error: errorMessage(error),
      code: (error as { code?: string }).code ?? 'RW_FAILED',
    });
    throw error;
  } finally {
    lock?.release();
    source?.close();
  }
}
