import { stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { RunwardenError, wrapError } from '../core/errors.js';
import { SnapshotBoundError } from '../archive/errors.js';
import { removeDatabaseFiles } from '../util/temp-files.js';

export interface SnapshotOptions {
  /** Longest the copy may take, in ms. */
  timeoutMs: number;
  /** How many restarts (the source changed underneath the copy) are tolerated. */
  maxRestarts: number;
  /** Pages copied per step; the event loop (and the app) runs between steps. */
  stepPages: number;
  signal?: AbortSignal;
  /** Progress in pages. */
  onPages?: (done: number, total: number) => void;
}

/** What the manifest records of one snapshot. */
export interface SnapshotResult {
  /** The source's journal mode (`wal`, `delete`, ...). */
  journalMode: string;
  pageCount: number;
  /** Bytes of the snapshot file. */
  size: number;
  /** When the read transaction began: the snapshot holds the state committed at that moment. */
  snapshotAt: Date;
  restarts: number;
}

/**
 * Copies the live SQLite database `source` into the new file `dest` as one consistent committed
 * state, never by copying its files (rows still in `-wal` would be lost).
 *
 * The copy uses SQLite's online backup API on a read-only connection that holds a read transaction
 * for the whole copy. In WAL mode that pins one snapshot: writers in other processes keep
 * committing, and the copy never restarts. (Without the held transaction, every foreign commit
 * restarts the copy and a steady writer can starve it forever.) In rollback-journal mode the held
 * read lock makes writers wait for the copy; the caller warns about it. Restarts and time are
 * bounded anyway: past either bound this throws SnapshotBoundError and removes `dest`.
 */
export async function snapshotDatabase(
  source: string,
  dest: string,
  options: SnapshotOptions,
): Promise<SnapshotResult> {
  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true, timeout: 5_000 });
  } catch (error) {
    throw wrapError(`open database ${source} for a snapshot`, error, 'RW_BACKUP_SNAPSHOT');
  }
  try {
    // Every page passes through once: SQLite's default 16 MiB cache would only add to peak memory.
    db.pragma('cache_size = -2048');
    const journalMode = String(db.pragma('journal_mode', { simple: true }));
    db.exec('BEGIN');
    // A deferred BEGIN takes no lock until the first read: this read starts the pinned snapshot.
    const pageCount = Number(db.pragma('page_count', { simple: true }));
    const snapshotAt = new Date();
    const started = Date.now();
    let restarts = 0;
    let lastRemaining = Number.POSITIVE_INFINITY;
    await db.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        options.signal?.throwIfAborted();
        if (remainingPages > lastRemaining) restarts++;
        lastRemaining = remainingPages;
        if (restarts > options.maxRestarts)
          throw new SnapshotBoundError(source, `restarted ${restarts} times (max ${options.maxRestarts})`);
        if (Date.now() - started > options.timeoutMs)
          throw new SnapshotBoundError(source, `took longer than ${options.timeoutMs} ms`);
        options.onPages?.(totalPages - remainingPages, totalPages);
        return options.stepPages;
      },
    });
    db.exec('COMMIT');
    const size = (await stat(dest)).size;
    options.onPages?.(pageCount, pageCount);
    return { journalMode, pageCount, size, snapshotAt, restarts };
  } catch (error) {
    await removeDatabaseFiles(dest);
    if (options.signal?.aborted) throw options.signal.reason;
    if (error instanceof RunwardenError) throw error;
    throw wrapError(`snapshot database ${source}`, error, 'RW_BACKUP_SNAPSHOT');
  } finally {
    db.close();
  }
}
