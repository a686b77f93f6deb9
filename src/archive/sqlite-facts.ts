import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { wrapError } from '../core/errors.js';
import type { DatabaseFacts } from '../core/drill-compare.js';

/**
 * What a backup records of a database snapshot and a restore drill checks of its restored copy:
 * the rows of each table and a digest of the schema. Tables named `sqlite_*` (SQLite's own) and
 * virtual tables (whose rows live in shadow tables, counted themselves, or outside the file) are
 * left out. The file is a snapshot or a restored copy, never a live database: it is opened
 * read-write so a WAL-mode header needs no existing -shm (the caller removes any sidecar left).
 * `count(*)` walks each table's smallest b-tree; on a snapshot just written that is mostly the
 * OS cache. Throws RW_SQLITE_FACTS when the file cannot be read as a database.
 */
export function databaseFacts(file: string): DatabaseFacts {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma('cache_size = -2048');
    const objects = db
      .prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
      )
      .all() as Array<{ type: string; name: string; tbl_name: string; sql: string | null }>;
    const tables: Record<string, number> = {};
    for (const object of objects) {
      if (object.type !== 'table' || /^\s*CREATE\s+VIRTUAL\b/i.test(object.sql ?? '')) continue;
      const quoted = `"${object.name.replaceAll('"', '""')}"`;
      tables[object.name] = (db.prepare(`SELECT count(*) AS n FROM ${quoted}`).get() as { n: number }).n;
    }
    const sha256 = createHash('sha256')
      .update(
        JSON.stringify(objects.map((object) => [object.type, object.name, object.tbl_name, object.sql])),
      )
      .digest('hex');
    const userVersion = Number(db.pragma('user_version', { simple: true }));
    return { tables, schema: { sha256, user_version: userVersion } };
  } catch (error) {
    throw wrapError(`read the tables and schema of ${file}`, error, 'RW_SQLITE_FACTS');
  } finally {
    db?.close();
  }
}
