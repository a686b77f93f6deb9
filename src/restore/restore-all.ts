import { chmod, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../archive/manifest.js';
import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { errorMessage, FatalError, wrapError } from '../core/errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { RestoresRepo } from '../store/restores-repo.js';
import { copyOwnership, tempNameBeside } from '../util/durable-fs.js';
import { assertFreeSpace, type SpaceNeed } from './free-space.js';
import { assertDatabaseTargetReplaceable, type PreparedDatabase, prepareDatabase } from './restore-db.js';
import { checkEntryToRestore } from './restore-entries.js';
import {
  applySwap,
  type JournalSwap,
  recoverJournal,
  removeJournal,
  undoSwap,
  writeJournal,
} from './restore-journal.js';
import { assertMediaTargetFree, restoreMedia } from './restore-media.js';
import { pausePoint } from './restore-pause.js';
import { openSourceArchive, type RestoreCatalog, type SourceArchive } from './restore-source.js';
import { entryFor, type RestorePlanTarget, resolveTarget } from './restore-targets.js';
import type { VerificationMethod } from './restore-source.js';
import { assertNotInUse, linkSafetyCopy, type SafetyCopy, safetyCopyName } from './safety-copy.js';

const ENTRY_CHUNK = 1024 * 1024;

/** Progress of a restore of several targets: bytes of the entry being staged, and its steps. */
export type RestoreAllProgress =
  | { kind: 'bytes' | 'verify'; done: number; total: number }
  | { kind: 'step'; step: string; detail?: string };

export interface RestoreAllRequest {
  archive: string;
  /** Resolved (absolute) `backup.sources`. */
  sources: BackupSourcesConfig;
  /** Restore the main database and the media folder (when the archive holds them). */
  all: boolean;
  /** Only these tenants (each must be in the archive); default: every tenant the archive holds. */
  tenants?: string[];
  force: boolean;
  signal: AbortSignal;
  /**
   * Where the swap journal is written (`<state_dir>/restore-journal.json`); a journal found there
   * at the start is recovered first (recoverJournal).
   */
  journal: string;
  now?: () => Date;
  catalog?: RestoreCatalog;
  verifyAll?: boolean;
  restores?: RestoresRepo;
  events?: EventBus;
  onProgress?(progress: RestoreAllProgress): void;
  /** One full backup of the current data, after everything is staged; omitted: --no-backup. */
  preRestoreBackup?(signal: AbortSignal): Promise<string>;
  /** Takes the backup lock before the safety copies and swaps; released at the end. */
  lock?(signal: AbortSignal): Promise<{ release(): void }>;
  /** Tests: runs before the swap of `swaps[index]` (to make it fail for real). */
  beforeSwap?(swap: JournalSwap, index: number): Promise<void> | void;
}

/** What one target of a restore of several became. */
export interface RestoredTarget {
  kind: 'db' | 'tenant' | 'media';
  name: string;
  /** The archive entry (db, tenant) or `media/`. */
  entry: string;
  target: string;
  files: number;
  bytes: number;
  /** The replaced database's copy, or the replaced media folder moved aside; null when there was none. */
  safetyCopy: string | null;
  safetyCopyMethod: SafetyCopy['method'] | 'moved' | null;
  restoreId: number | null;
}

export interface RestoreAllOutcome {
  archive: string;
  archiveSha256: string;
  verification: { method: VerificationMethod };
  preRestoreBackup: string | null;
  /** The journal the swaps ran under (removed once they were done). */
  journal: string;
  /** An earlier restore stopped mid-swap and finished (forward) or undone (back) first, if any. */
  recovered: { archive: string; direction: 'forward' | 'back'; targets: string[] } | null;
  targets: RestoredTarget[];
  files: number;
  bytes: number;
}

interface Staged {
  plan: RestorePlanTarget;
  entries: ManifestEntry[];
  type: 'file' | 'folder';
  /** The staged file or folder beside the target. */
  staged?: string;
  prepared?: PreparedDatabase;
  safety?: SafetyCopy;
  /** media: where the current folder goes. */
  movedAside?: string;
  bytes: number;
  restoreId?: number;
}

/**
 * Restores the main database, every tenant in the archive (or the chosen ones) and the media
 * folder from one archive, so that the whole site is back at the archive's moment:
 * 1. a journal a killed restore left is recovered (recoverJournal);
 * 2. the archive is opened and its manifest authenticated (as a single restore does); every target
 *    is checked (exists without --force, media folder not a mount point) and every current database
 *    probed for another process holding it (RW_RESTORE_DB_BUSY, naming it);
 * 3. free space is checked for the staged copies and safety copies (RW_RESTORE_NO_SPACE);
 * 4. every target is staged beside it and verified, two at a time (stageAll): databases size,
 *    CRC-32, SHA-256 and quick_check, or integrity_check when the archive's own check does not
 *    stand (prepareDatabase, SourceArchive.integrityChecked); media files size and SHA-256 into a
 *    fresh folder beside the media folder;
 * 5. one pre-restore backup; the backup lock; a safety copy of every current database, a second
 *    name for its file (linkSafetyCopy), which the swap leaves as it is;
 * 6. the journal is written, then the targets are swapped one by one (a rename each; the media
 *    folder: two). When a swap fails, the ones done are undone from their safety copies and the
 *    error says so (RW_RESTORE_ROLLED_BACK); the journal is removed once all are done or undone.
 * Until step 6 nothing of the site is changed; a refusal removes what was staged and the safety
 * copies taken (the current data is kept as it is).
 */
export async function runRestoreAll(request: RestoreAllRequest): Promise<RestoreAllOutcome> {
  const now = request.now ?? (() => new Date());
  const startedAt = Date.now();
  const { signal, sources } = request;
  const progress = request.onProgress ?? (() => {});
  const recovered = await recoverJournal(request.journal);
  if (recovered)
    progress({ kind: 'step', step: `recovered-${recovered.direction}`, detail: recovered.journal });

  let source: SourceArchive | undefined;
  let lock: { release(): void } | undefined;
  const staged: Staged[] = [];
  let swapping = false;
  try {
    source = await openSourceArchive(request.archive, {
      catalog: request.catalog,
      verifyAll: request.verifyAll,
      signal,
      onProgress: (done, total) => progress({ kind: 'verify', done, total }),
    });
    const { zip, manifest } = source;
    const plans = planTargets(request, source);
    if (plans.length === 0)
      throw new FatalError('RW_RESTORE_NO_ENTRY', `backup ${request.archive} holds nothing to restore`);

    // Refusals before anything is written: occupied or existing targets, then free space.
    const needs: SpaceNeed[] = [];
    for (const plan of plans) {
      const entries = manifest.entries.filter((entry) =>
        plan.kind === 'media' ? entry.kind === 'media' : entry.path === plan.entry,
      );
      for (const entry of entries) checkEntryToRestore(zip, entry);
      const size = entries.reduce((sum, entry) => sum + entry.size, 0);
      if (plan.kind === 'media') {
        await assertMediaTargetFree(plan.target, request.force);
        await assertNotAMountPoint(plan.target);
        needs.push({ target: plan.target, staging: size, safetyCopy: 0 });
        staged.push({ plan, entries, type: 'folder', bytes: size });
      } else {
        const old = await assertDatabaseTargetReplaceable(plan.target, request.force);
        if (old) assertNotInUse(plan.target);
        needs.push({
          target: plan.target,
          staging: size,
          safetyCopy: old ? await databaseSize(plan.target) : 0,
        });
        staged.push({ plan, entries, type: 'file', bytes: size });
      }
    }
    await assertFreeSpace(needs);
    progress({ kind: 'step', step: 'verified' });

    await stageAll(staged, source, request, progress);

    for (const item of staged) {
      item.restoreId = request.restores?.start({
        archive: request.archive,
        archiveSha256: source.sha256,
        kind: item.plan.kind,
        name: item.plan.name,
        target: item.plan.target,
        at: now(),
      });
    }
    let preRestoreBackup: string | null = null;
    if (request.preRestoreBackup) {
      try {
        preRestoreBackup = await request.preRestoreBackup(signal);
      } catch (error) {
        throw wrapError(
          'take the pre-restore backup (pass --no-backup to skip it)',
          error,
          'RW_RESTORE_PRE_BACKUP',
        );
      }
      for (const { restoreId } of staged)
        if (restoreId !== undefined) request.restores?.recordPreRestoreBackup(restoreId, preRestoreBackup);
    }
    lock = await request.lock?.(signal);

    // Safety copies (each checks again that nobody holds the database), then the journal.
    const at = now();
    for (const item of staged) {
      const id = item.restoreId;
      if (item.type === 'folder') {
        if (await stat(item.plan.target).catch(() => undefined))
          item.movedAside = await safetyCopyName(item.plan.target, at);
        continue;
      }
      if (!(await assertDatabaseTargetReplaceable(item.plan.target, request.force))) continue;
      item.safety = await linkSafetyCopy(item.plan.target, at);
      if (id !== undefined) request.restores?.recordSafetyCopy(id, item.safety.file, item.safety.method);
      progress({ kind: 'step', step: 'safety-copied', detail: item.safety.file });
    }
    signal.throwIfAborted();
    await pausePoint('all-staged');
    const swaps: JournalSwap[] = [];
    for (const item of staged) {
      const file = item.staged as string;
      swaps.push({
        kind: item.plan.kind,
        name: item.plan.name,
        type: item.type,
        target: item.plan.target,
        staged: file,
        stagedIno: (await stat(file)).ino,
        safetyCopy: item.safety?.file ?? item.movedAside ?? null,
      });
    }
    await writeJournal(request.journal, {
      archive: request.archive,
      startedAt: at.toISOString(),
      swaps,
    });
    progress({ kind: 'step', step: 'journaled', detail: request.journal });
    await pausePoint('journaled');

    // From here on the swaps are short renames, not abandoned half-way by an abort.
    swapping = true;
    await swapAll(swaps, request, progress);
    await removeJournal(request.journal);
    swapping = false;

    const targets: RestoredTarget[] = staged.map((item) => ({
      kind: item.plan.kind,
      name: item.plan.name,
      entry: item.plan.entry,
      target: item.plan.target,
      files: item.entries.length,
      bytes: item.bytes,
      safetyCopy: item.safety?.file ?? item.movedAside ?? null,
      safetyCopyMethod: item.safety?.method ?? (item.movedAside ? 'moved' : null),
      restoreId: item.restoreId ?? null,
    }));
    for (const target of targets) {
      if (target.restoreId !== null)
        request.restores?.finish(target.restoreId, { result: 'completed', at: now() });
      request.events?.emit('restore:completed', {
        archive: request.archive,
        kind: target.kind,
        name: target.name,
        target: target.target,
        safetyCopy: target.safetyCopy,
        durationMs: Date.now() - startedAt,
      });
    }
    return {
      archive: request.archive,
      archiveSha256: source.sha256,
      verification: { method: source.method },
      preRestoreBackup,
      journal: request.journal,
      recovered: recovered
        ? { archive: recovered.archive, direction: recovered.direction, targets: recovered.targets }
        : null,
      targets,
      files: targets.reduce((sum, target) => sum + target.files, 0),
      bytes: targets.reduce((sum, target) => sum + target.bytes, 0),
    };
  } catch (error) {
    if (!swapping) {
      // Nothing was swapped: remove what was staged and the safety copies of data left as it is.
      for (const item of staged) {
        await item.prepared?.discard();
        if (item.type === 'folder' && item.staged) await rm(item.staged, { recursive: true, force: true });
        if (item.safety) {
          for (const file of [item.safety.file, ...item.safety.sidecars]) await rm(file, { force: true });
        }
      }
    }
    const failed = staged.length > 0 ? staged.map((item) => item.plan) : [mainPlan(sources)];
    for (const item of staged) {
      if (item.restoreId !== undefined)
        request.restores?.finish(item.restoreId, { result: 'failed', error: errorMessage(error), at: now() });
    }
    for (const plan of failed) {
      request.events?.emit('restore:failed', {
        archive: request.archive,
        kind: plan.kind,
        name: plan.name,
        target: plan.target,
        error: errorMessage(error),
        code: (error as { code?: string }).code ?? 'RW_FAILED',
      });
    }
    throw error;
  } finally {
    lock?.release();
    source?.close();
  }
}

function mainPlan(sources: BackupSourcesConfig): RestorePlanTarget {
  return resolveTarget({ kind: 'db', name: 'main' }, sources);
}

/** The targets to restore, in swap order: main database, tenants, media. */
function planTargets(request: RestoreAllRequest, source: SourceArchive): RestorePlanTarget[] {
  const { manifest } = source;
  const { sources, archive } = request;
  const plans: RestorePlanTarget[] = [];
  if (request.all && manifest.entries.some((entry) => entry.kind === 'db'))
    plans.push(entryFor(resolveTarget({ kind: 'db', name: 'main' }, sources), manifest, archive));
  const tenants =
    request.tenants ??
    manifest.entries.filter((entry) => entry.kind === 'tenant').map((entry) => entry.tenant as string);
  for (const tenant of tenants)
    plans.push(entryFor(resolveTarget({ kind: 'tenant', tenant }, sources), manifest, archive));
  if (request.all && manifest.entries.some((entry) => entry.kind === 'media'))
    plans.push(resolveTarget({ kind: 'media' }, sources));
  return plans;
}

/**
 * Targets staged at once. Staging a database is inflating (zlib's thread pool), hashing and writing
 * (this thread), then checking it (a worker thread for a large one); the media is hashing and
 * writing: two at a time keep two cores busy, the main database beside the tenants and the media.
 */
const STAGE_LANES = 2;

/**
 * Stages every target (stage), STAGE_LANES at a time, largest first: the main database and the
 * media folder start together and the tenants fill in behind whichever ends first (the order of
 * `staged`, which the swaps follow, is kept). Progress counts the bytes of all of them. The first
 * failure stops the others; it is thrown once none is running any more.
 */
async function stageAll(
  staged: Staged[],
  source: SourceArchive,
  request: RestoreAllRequest,
  progress: (progress: RestoreAllProgress) => void,
): Promise<void> {
  const stop = new AbortController();
  const signal = AbortSignal.any([request.signal, stop.signal]);
  const total = staged.reduce((sum, item) => sum + item.bytes, 0);
  const doneOf = new Map<Staged, number>();
  let done = 0;
  const queue = [...staged].sort((a, b) => b.bytes - a.bytes);
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    for (let item = queue.shift(); item && !failure; item = queue.shift()) {
      try {
        signal.throwIfAborted();
        await stage(item, source, signal, request, (bytes) => {
          done += bytes - (doneOf.get(item) ?? 0);
          doneOf.set(item, bytes);
          progress({ kind: 'bytes', done, total });
        });
      } catch (error) {
        failure ??= { error };
        stop.abort(error);
        return;
      }
      progress({ kind: 'step', step: 'staged', detail: item.plan.target });
    }
  };
  await Promise.all(Array.from({ length: STAGE_LANES }, lane));
  request.signal.throwIfAborted();
  if (failure) throw failure.error;
}

/** Writes one target's staged copy beside it, verified against the manifest. */
async function stage(
  item: Staged,
  source: SourceArchive,
  signal: AbortSignal,
  request: RestoreAllRequest,
  onBytes: (done: number) => void,
): Promise<void> {
  const { zip, manifest } = source;
  if (item.type === 'file') {
    const entry = item.entries[0] as ManifestEntry;
    const record = checkEntryToRestore(zip, entry);
    item.prepared = await prepareDatabase({
      target: item.plan.target,
      openEntry: (entrySignal) => zip.open(record, entrySignal, { chunkBytes: ENTRY_CHUNK }),
      source: { archive: request.archive, entry },
      force: request.force,
      check: source.integrityChecked ? 'quick_check' : 'integrity_check',
      signal,
      onProgress: (event) => {
        if (event.kind === 'bytes') onBytes(event.done);
      },
    });
    item.staged = item.prepared.temp;
    const old = await stat(item.plan.target).catch(() => undefined);
    if (old) {
      await chmod(item.staged, old.mode & 0o7777);
      await copyOwnership(item.staged, old);
    }
    return;
  }
  // The media folder is staged whole beside it (same filesystem), then swapped by renames.
  item.staged = tempNameBeside(item.plan.target);
  await restoreMedia({
    archive: request.archive,
    zip,
    manifest,
    target: item.staged,
    force: false,
    fresh: true,
    signal,
    onProgress: (event) => {
      if (event.kind === 'bytes') onBytes(event.done);
    },
  });
  const old = await stat(item.plan.target).catch(() => undefined);
  if (old) {
    await chmod(item.staged, old.mode & 0o7777);
    await copyOwnership(item.staged, old);
  }
}

/** Swaps every target in order; when one fails, undoes those done (newest first) and throws. */
async function swapAll(
  swaps: JournalSwap[],
  request: RestoreAllRequest,
  progress: (progress: RestoreAllProgress) => void,
): Promise<void> {
  for (const [index, swap] of swaps.entries()) {
    try {
      await request.beforeSwap?.(swap, index);
      await applySwap(swap);
    } catch (error) {
      try {
        for (const done of swaps.slice(0, index + 1).reverse()) await undoSwap(done);
        for (const pending of swaps.slice(index + 1)) await undoSwap(pending);
      } catch (undoError) {
        throw new FatalError(
          'RW_RESTORE_ROLLBACK_FAILED',
          `restore of ${swap.target} failed (${errorMessage(error)}), and putting back the targets ` +
            `already restored failed too (${errorMessage(undoError)}); the journal ${request.journal} is kept: ` +
            'the next `runwarden restore` or daemon start finishes putting them back',
          { cause: error },
        );
      }
      await removeJournal(request.journal);
      throw new FatalError(
        'RW_RESTORE_ROLLED_BACK',
        `restore of ${swap.target} failed (${errorMessage(error)}); the ${index} target(s) already ` +
          'restored were put back from their safety copies: every target is as it was before the restore',
        { cause: error },
      );
    }
    progress({ kind: 'step', step: 'swapped', detail: swap.target });
    await pausePoint(`swapped-${index + 1}`);
  }
}

/** A database's size on disk with its WAL: what its safety copy takes, at most. */
async function databaseSize(file: string): Promise<number> {
  const [main, wal] = await Promise.all([
    stat(file).catch(() => undefined),
    stat(`${file}-wal`).catch(() => undefined),
  ]);
  return (main?.size ?? 0) + (wal?.size ?? 0);
}

/**
 * The media folder is swapped by renaming it; a mount point cannot be renamed, so it is refused
 * before anything is written (restore it with --media, which writes into it).
 */
async function assertNotAMountPoint(dir: string): Promise<void> {
  const [own, parent] = await Promise.all([
    stat(dir).catch(() => undefined),
    stat(path.dirname(dir)).catch(() => undefined),
  ]);
  if (own && parent && own.dev !== parent.dev) {
    throw new FatalError(
      'RW_RESTORE_MEDIA_MOUNT',
      `media folder ${dir} is a mount point: restoring everything swaps the folder by renaming it, ` +
        'which a mount point does not allow; restore the media on its own with --media (it writes into the ' +
        'folder) and the databases with --db main and --tenants. Nothing was changed.',
    );
  }
}
