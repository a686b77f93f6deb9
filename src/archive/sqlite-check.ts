import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { errorMessage, FatalError, wrapError } from '../core/errors.js';

/** Databases up to this size are checked on the calling thread; a few milliseconds at most. */
const INLINE_CHECK_BYTES = 8 * 1024 * 1024;
/**
 * SQLite page cache for a check, in KiB as `PRAGMA cache_size` takes it (negative). The check reads
 * every page about once, from the OS cache: SQLite's default 16 MiB would only add to our peak
 * memory (a 300 MB database checks about as fast with 2 MiB).
 */
const CHECK_CACHE = -2048;

/**
 * Runs `PRAGMA integrity_check` on the SQLite file `file` (a snapshot or an extracted archive entry,
 * never a live database: it is opened read-write so a WAL-mode header needs no existing -shm).
 * Resolves undefined when the file is a healthy database, else the problems SQLite reported (at
 * most 10) as one line. Large files are checked on a worker thread, so a daemon keeps answering
 * /metrics and alert webhooks during the seconds a 300 MB check takes. Rejects with the signal's
 * reason when aborted.
 */
export async function integrityProblem(
  file: string,
  signal?: AbortSignal,
  check: IntegrityCheck = 'integrity_check',
): Promise<string | undefined> {
  signal?.throwIfAborted();
  const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  const outcome =
    size <= INLINE_CHECK_BYTES ? checkInline(file, check) : await checkOnWorker(file, check, signal);
  if ('error' in outcome) return `is not a readable SQLite database: ${outcome.error}`;
  const problems = outcome.rows.filter((line) => line !== 'ok');
  return problems.length === 0 ? undefined : `${check} failed: ${problems.join('; ')}`;
}

/**
 * `integrity_check` walks every b-tree and checks every index against its table; `quick_check`
 * does the same walk without the index cross-checks (a 320 MB database: 0.7 s instead of 4.5 s),
 * enough to prove a file whose bytes are already proven to be ones that passed integrity_check.
 */
export type IntegrityCheck = 'integrity_check' | 'quick_check';

type Outcome = { rows: string[] } | { error: string };

function checkInline(file: string, check: IntegrityCheck): Outcome {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma(`cache_size = ${CHECK_CACHE}`);
    const rows = db.pragma(`${check}(10)`) as Array<Record<IntegrityCheck, string>>;
    return { rows: rows.map((row) => row[check]) };
  } catch (error) {
    return { error: errorMessage(error) };
  } finally {
    db?.close();
  }
}

// Plain JavaScript evaluated on the worker; dynamic imports work whether it runs as CommonJS or ESM.
const WORKER_SOURCE = `
(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  const { createRequire } = await import('node:module');
  const Database = createRequire(workerData.base)('better-sqlite3');
  let db;
  try {
    db = new Database(workerData.file, { fileMustExist: true });
    db.pragma('cache_size = ' + workerData.cache);
    const check = workerData.check;
    const rows = db.pragma(check + '(10)').map((row) => row[check]);
    parentPort.postMessage({ rows });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  } finally {
    if (db) db.close();
  }
})();
`;

function checkOnWorker(file: string, check: IntegrityCheck, signal?: AbortSignal): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { base: import.meta.url, file, cache: CHECK_CACHE, check },
    });
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      action();
    };
    const onAbort = () => {
      void worker.terminate();
      settle(() => reject(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (outcome: Outcome) => settle(() => resolve(outcome)));
    // A failing worker says nothing about the file: report it as our failure, not as corruption.
    worker.once('error', (error) =>
      settle(() => reject(wrapError(`check integrity of ${file}`, error, 'RW_BACKUP_CHECK'))),
    );
    worker.once('exit', (code) =>
      settle(() =>
        reject(
          new FatalError('RW_BACKUP_CHECK', `check integrity of ${file}: worker exited with code ${code}`),
        ),
      ),
    );
  });
}
