import type { KnownGoodEntry, KnownGoodHow } from '../../core/known-good.js';
import type { Db } from '../db.js';

/** How many entries per service are kept: rollbacks never go further back than a few deploys. */
const KEPT = 50;

/** The known-good history of each service as a list, oldest first (table watch_known_good). */
export class KnownGoodRepo {
  constructor(private readonly db: Db) {}

  /** Appends `revision`; entries beyond the newest KEPT of the service are dropped. */
  append(service: string, revision: string, how: KnownGoodHow, at: number): void {
    this.db
      .prepare('INSERT INTO watch_known_good (service, revision, how, at) VALUES (?, ?, ?, ?)')
      .run(service, revision, how, at);
    this.db
      .prepare(
        `DELETE FROM watch_known_good WHERE service = ? AND id NOT IN
           (SELECT id FROM watch_known_good WHERE service = ? ORDER BY id DESC LIMIT ?)`,
      )
      .run(service, service, KEPT);
  }

  /** Oldest first. */
  list(service: string): KnownGoodEntry[] {
    return this.db
      .prepare('SELECT revision, how, at FROM watch_known_good WHERE service = ? ORDER BY id')
      .all(service) as KnownGoodEntry[];
  }

  /** Whether `revision` was ever known good for `service`. */
  has(service: string, revision: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM watch_known_good WHERE service = ? AND revision = ? LIMIT 1')
        .get(service, revision) !== undefined
    );
  }
}
