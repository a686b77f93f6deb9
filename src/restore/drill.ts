import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ManifestEntry } from '../archive/manifest.js';
import { databaseFacts } from '../archive/sqlite-facts.js';
import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { checksFor, compareWithManifest, type DrillChecks } from '../core/drill-compare.js';
import { errorMessage, FatalError, RunwardenError, wrapError } from '../core/errors.js';
import { recoveryPoint } from '../core/recovery-point.js';
import type { DrillTrigger } from '../events/drill-events.js';
import type { EventBus } from '../events/event-bus.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import { tempNameBeside } from '../util/durable-fs.js';
import { assertFreeSpace } from './free-space.js';
import { prepareDatabase } from './restore-db.js';
import { checkEntryToRestore } from './restore-entries.js';
import { restoreMedia } from './restore-media.js';
import { openSourceArchive, type RestoreCatalog, type VerificationMethod } from './restore-source.js';

const ENTRY_CHUNK = 1024 * 1024;

/** Errors that say something about the archive's contents: a drill reports them and goes on. */
const FINDINGS = new Set([
  'RW_BACKUP_CORRUPT',
  'RW_RESTORE_INTEGRITY',
  'RW_RESTORE_CHECKSUM',
  'RW_RESTORE_UNSAFE_ENTRY',
  'RW_SQLITE_FACTS',
]);

export interface DrillRequest {
  /** Resolved (absolute) `backup.sources`: the drill's folder goes beside the main database. */
  sources: BackupSourcesConfig;
  /** Picks the newest verified archive and authenticates its manifest. */
  catalog: RestoreCatalog & Pick<BackupsRepo, 'list'>;
  trigger: DrillTrigger;
  signal: AbortSignal;
  events?: EventBus;
  now?: () => Date;
  /** Tests: runs once everything is restored, before the copy is removed. */
  beforeCleanup?(folder: string): Promise<void> | void;
}

/** One database of a drill: what was restored and every difference found. */
export interface DrilledDatabase {
  kind: 'db' | 'tenant';
  /** `main database` or `tenant <id>`. */
  label: string;
  entry: string;
  bytes: number;
  checks: DrillChecks;
  /** Tables and rows the restored copy holds (0 when it could not be read). */
  tables: number;
  rows: number;
  problems: string[];
}

export interface DrillOutcome {
  ok: boolean;
  archive: string;
  archiveSha256: string;
  verification: VerificationMethod;
  /** `full` when the manifest recorded row counts and schema of every database. */
  checks: DrillChecks;
  /** Said when the checks were partial. */
  note: string | null;
  /** The temporary folder the archive was restored into (removed). */
  folder: string;
  databases: DrilledDatabase[];
  media: { files: number; bytes: number; problems: string[] } | null;
  /** Every difference found, one line each; empty when ok. */
  problems: string[];
  bytes: number;
  durationMs: number;
}

/**
 * A restore drill: restores the newest verified archive (every database and the media) into a new
 * temporary folder beside the main database, so on the data's filesystem (the free space is checked
 * first and then used for real), runs `integrity_check` on each database and checks every entry's
 * size, CRC-32 and SHA-256 (prepareDatabase, restoreMedia: the pieces a restore uses), compares each
 * table's row count and the schema with the manifest (archives written before the manifest recorded
 * them: integrity and hashes only, said in `note`), then removes the folder, on failure too. The
 * folder is named like a restore's temp file (`.drill.restore-<writer>-<random>.tmp`), so after a
 * crash the daemon's start-up clean-up removes it. Nothing of the site is touched.
 * Resolves with ok false when the archive differs (every difference in `problems`); rejects when
 * the drill cannot run: RW_DRILL_NO_ARCHIVE, RW_BACKUP_NOT_FOUND, RW_BACKUP_CHANGED,
 * RW_RESTORE_NO_SPACE, RW_RESTORE_IO, or the signal's reason. Emits drill:completed or drill:failed
 * (nothing when aborted).
 */
export async function runDrill(request: DrillRequest): Promise<DrillOutcome> {
  const now = request.now ?? (() => new Date());
  const started = Date.now();
  const { signal, trigger } = request;
  let archive: string | null = null;
  try {
    archive = newestVerified(request.catalog, now());
    const outcome = await drillArchive(archive, request, started);
    if (outcome.ok)
      request.events?.emit('drill:completed', {
        trigger,
        archive,
        checks: outcome.checks,
        databases: outcome.databases.length,
        mediaFiles: outcome.media?.files ?? 0,
        bytes: outcome.bytes,
        durationMs: outcome.durationMs,
        finishedAt: now().getTime(),
      });
    else
      request.events?.emit('drill:failed', {
        trigger,
        archive,
        code: 'RW_DRILL_FAILED',
        error: outcome.problems.join('; '),
        problems: outcome.problems,
        durationMs: outcome.durationMs,
        finishedAt: now().getTime(),
      });
    return outcome;
  } catch (error) {
    // A drill stopped by the daemon's shutdown proved nothing either way: no event, so the metrics
    // and the alert on a failed drill are not moved by a restart.
    if (signal.aborted) throw signal.reason;
    const failure =
      error instanceof RunwardenError ? error : wrapError('run a restore drill', error, 'RW_DRILL_IO');
    request.events?.emit('drill:failed', {
      trigger,
      archive,
      code: failure instanceof RunwardenError ? failure.code : 'RW_FAILED',
      error: errorMessage(failure),
      problems: [],
      durationMs: Date.now() - started,
      finishedAt: now().getTime(),
    });
    throw failure;
  }
}

function newestVerified(catalog: Pick<BackupsRepo, 'list'>, now: Date): string {
  const point = recoveryPoint(catalog.list(), now);
  if (!point)
    throw new FatalError(
      'RW_DRILL_NO_ARCHIVE',
      'no verified backup to drill: take one with `runwarden backup` (or wait for backup.schedule)',
    );
  return point.file;
}

async function drillArchive(archive: string, request: DrillRequest, started: number): Promise<DrillOutcome> {
  const { signal } = request;
  const source = await openSourceArchive(archive, { catalog: request.catalog, signal });
  const folder = tempNameBeside(path.join(path.dirname(request.sources.main_db.path), 'drill'));
  try {
    const { zip, manifest } = source;
    const total = manifest.entries.reduce((sum, entry) => sum + entry.size, 0);
    await assertFreeSpace([{ target: folder, staging: total, safetyCopy: 0 }]);
    await mkdir(folder, { mode: 0o700 });
    const databases: DrilledDatabase[] = [];
    for (const entry of manifest.entries) {
      if (entry.kind !== 'db' && entry.kind !== 'tenant') continue;
      signal.throwIfAborted();
      const recorded = manifest.databases.find((database) => database.entry === entry.path) ?? {};
      const label = entry.kind === 'db' ? 'main database' : `tenant ${entry.tenant}`;
      const drilled: DrilledDatabase = {
        kind: entry.kind,
        label,
        entry: entry.path,
        bytes: entry.size,
        checks: checksFor(recorded),
        tables: 0,
        rows: 0,
        problems: [],
      };
      databases.push(drilled);
      await finding(drilled.problems, label, async () => {
        const record = checkEntryToRestore(zip, entry);
        const prepared = await prepareDatabase({
          target: path.join(folder, entry.path),
          openEntry: (entrySignal) => zip.open(record, entrySignal, { chunkBytes: ENTRY_CHUNK }),
          source: { archive, entry },
          force: false,
          signal,
        });
        const observed = databaseFacts(prepared.temp);
        drilled.tables = Object.keys(observed.tables).length;
        drilled.rows = Object.values(observed.tables).reduce((sum, rows) => sum + rows, 0);
        drilled.problems.push(...compareWithManifest(label, recorded, observed));
      });
    }
    const mediaEntries = manifest.entries.filter((entry: ManifestEntry) => entry.kind === 'media');
    let media: DrillOutcome['media'] = null;
    if (mediaEntries.length > 0) {
      media = { files: 0, bytes: 0, problems: [] };
      const result = media;
      await finding(result.problems, 'media', async () => {
        for (const entry of mediaEntries) checkEntryToRestore(zip, entry);
        const restored = await restoreMedia({
          archive,
          zip,
          manifest,
          target: path.join(folder, 'media'),
          force: false,
          signal,
        });
        result.files = restored.files;
        result.bytes = restored.bytes;
      });
    }
    await request.beforeCleanup?.(folder);
    const problems = [...databases.flatMap((database) => database.problems), ...(media?.problems ?? [])];
    const checks: DrillChecks = databases.every((database) => database.checks === 'full')
      ? 'full'
      : 'integrity-and-hashes';
    return {
      ok: problems.length === 0,
      archive,
      archiveSha256: source.sha256,
      verification: source.method,
      checks,
      note:
        checks === 'full'
          ? null
          : 'the manifest of this archive records no row counts or schema for some databases (it predates restore drills): those were checked for integrity and hashes only',
      folder,
      databases,
      media,
      problems,
      bytes: total,
      durationMs: Date.now() - started,
    };
  } finally {
    source.close();
    // Always: the copy is as large as the data.
    await rm(folder, { recursive: true, force: true });
  }
}

/** Runs `check`; an error about the archive's contents becomes a problem of `label`, others throw. */
async function finding(problems: string[], label: string, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!(error instanceof RunwardenError) || !FINDINGS.has(error.code)) throw error;
    problems.push(`${label}: ${error.message}`);
  }
}
