import path from 'node:path';
import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { errorMessage, FatalError, wrapError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import type { RestoreKind, RestoresRepo } from '../store/restores-repo.js';
import type { ManifestEntry } from './manifest.js';
import { assertDatabaseTargetReplaceable, type RestoreProgress, restoreDatabase } from './restore-db.js';
import { assertMediaTargetFree, restoreMedia } from './restore-media.js';
import { pausePoint } from './restore-pause.js';
import { entryFor, type RestoreSelection, resolveTarget } from './restore-targets.js';
import { openArchiveEntry, verifyArchive } from './verify.js';

/** Everything one restore needs; the CLI (or a test) builds it. */
export interface RestoreRequest {
  /** Path of the archive to restore from. */
  archive: string;
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
   * The backup catalog: when it lists the archive, the archive's SHA-256 must still be the one
   * cataloged (RW_BACKUP_CHANGED otherwise), which catches an archive replaced by another
   * self-consistent one.
   */
  catalog?: Pick<BackupsRepo, 'get'>;
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
  archiveSha256: string;
  kind: RestoreKind;
  name: string;
  entry: string;
  target: string;
  safetyCopy: string | null;
  safetyCopyMethod: 'snapshot' | 'raw-copy' | null;
  preRestoreBackup: string | null;
  removedSidecars: string[];
  files: number;
  bytes: number;
  restoreId: number | null;
}

/**
 * Restores one database or the media folder from an archive. The archive is verified first (every
 * entry's CRC-32 and SHA-256, every database's integrity): a corrupt or tampered archive is refused
 * with the reason (BackupCorruptError) and nothing on disk is touched. Then, when asked, a full
 * pre-restore backup is taken, the backup lock is taken (so no backup reads a database while it is
 * replaced, and no two restores overlap), and the database is replaced as restoreDatabase describes
 * (safety copy first, atomic rename), or the media files are written as restoreMedia describes.
 * The entry's bytes are hashed again as they are written, so an archive changed after its
 * verification is still refused. Emits restore:completed or restore:failed.
 */
export async function runRestore(request: RestoreRequest): Promise<RestoreOutcome> {
  const now = request.now ?? (() => new Date());
  const startedAt = Date.now();
  const resolved = resolveTarget(request.selection, request.sources, request.target);
  let restoreId: number | undefined;
  let lock: { release(): void } | undefined;
  try {
    // Refuse an occupied target before the (long) verification and the pre-restore backup.
    if (resolved.kind === 'media') await assertMediaTargetFree(resolved.target, request.force);
    else await assertDatabaseTargetReplaceable(resolved.target, request.force);
    const verified = await verifyArchive(request.archive, {
      signal: request.signal,
      onProgress: (done, total) => request.onProgress?.({ kind: 'verify', done, total }),
    });
    const cataloged = request.catalog?.get(path.resolve(request.archive));
    if (cataloged && cataloged.sha256 !== verified.sha256) {
      throw new FatalError(
        'RW_BACKUP_CHANGED',
        `backup ${request.archive} changed since it was cataloged: its SHA-256 is ${verified.sha256}, ` +
          `the catalog says ${cataloged.sha256}; refusing to restore from it. Nothing was changed.`,
      );
    }
    const plan = entryFor(resolved, verified.manifest, request.archive);
    request.onProgress?.({ kind: 'step', step: 'verified' });
    await pausePoint('verified');

    restoreId = request.restores?.start({
      archive: request.archive,
      archiveSha256: verified.sha256,
      kind: plan.kind,
      name: plan.name,
      target: plan.target,
      at: now(),
    });
    const outcome: RestoreOutcome = {
      archive: request.archive,
      archiveSha256: verified.sha256,
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
    };
    if (request.preRestoreBackup) {
      try {
        outcome.preRestoreBackup = await request.preRestoreBackup(request.signal);
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
    lock = await request.lock?.(request.signal);

    if (plan.kind === 'media') {
      const media = await restoreMedia({
        archive: request.archive,
        manifest: verified.manifest,
        target: plan.target,
        force: request.force,
        signal: request.signal,
        onProgress: request.onProgress,
      });
      outcome.files = media.files;
      outcome.bytes = media.bytes;
    } else {
      const expected = verified.manifest.entries.find((entry) => entry.path === plan.entry) as ManifestEntry;
      const db = await restoreDatabase({
        target: plan.target,
        openEntry: async (signal) => openArchiveEntry(request.archive, plan.entry, { signal }),
        expected: { sha256: expected.sha256, size: expected.size },
        force: request.force,
        now: now(),
        signal: request.signal,
        onSafetyCopy: (copy) => {
          outcome.safetyCopy = copy.file;
          outcome.safetyCopyMethod = copy.method;
          if (restoreId !== undefined) request.restores?.recordSafetyCopy(restoreId, copy.file, copy.method);
        },
        onProgress: request.onProgress,
      });
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
    if (restoreId !== undefined) {
      request.restores?.finish(restoreId, { result: 'failed', error: errorMessage(error), at: now() });
    }
    request.events?.emit('restore:failed', {
      archive: request.archive,
      kind: resolved.kind,
      name: resolved.name,
      target: resolved.target,
      error: errorMessage(error),
      code: (error as { code?: string }).code ?? 'RW_FAILED',
    });
    throw error;
  } finally {
    lock?.release();
  }
}
