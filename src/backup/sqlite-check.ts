import Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';

/**
 * Runs `PRAGMA integrity_check` on the SQLite file `file` (a snapshot or an extracted archive entry,
 * never a live database: it is opened read-write so a WAL-mode header needs no existing -shm).
 * Returns undefined when the file is a healthy database, else the problems SQLite reported (at most
 * 10) as one line.
 */
export function integrityProblem(file: string): string | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    const rows = db.pragma('integrity_check(10)') as Array<{ integrity_check: string }>;
    const problems = rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
    return problems.length === 0 ? undefined : `integrity_check failed: ${problems.join('; ')}`;
  } catch (error) {
    return `is not a readable SQLite database: ${errorMessage(error)}`;
  } finally {
    db?.close();
  }
}
