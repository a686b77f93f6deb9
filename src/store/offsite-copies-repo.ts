import type { Db } from './db.js';

/** A confirmed copy: its gs:// URL and the generation whose size and CRC32C matched the archive. */
export interface ConfirmedCopyRecord {
  objectName: string;
  generation: number;
}

/**
 * The `offsite_copies` table (migration 009): every off-site copy the catalog confirmed, including
 * those whose local archive retention has since deleted. Filled by a trigger on `backups`; remote
 * retention reads it and forgets what it deleted.
 */
export class OffsiteCopiesRepo {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Every confirmed copy, in object name order. */
  list(): ConfirmedCopyRecord[] {
    return this.#db
      .prepare('SELECT object AS objectName, generation FROM offsite_copies ORDER BY object, generation')
      .all() as ConfirmedCopyRecord[];
  }

  /** The object of this copy is gone from the bucket. Returns whether it was known. */
  forget(objectName: string, generation: number): boolean {
    return (
      this.#db
        .prepare('DELETE FROM offsite_copies WHERE object = ? AND generation = ?')
        .run(objectName, generation).changes > 0
    );
  }
}
