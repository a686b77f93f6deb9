import type { Db } from '../db.js';

/** One line of a service's story: what happened, when, and the event that said so. */
export interface HistoryEntry {
  id: number;
  service: string;
  at: number;
  /** The event name, e.g. `watch:started`, `rollback:completed`. */
  kind: string;
  watchId: number | null;
  revision: string | null;
  message: string;
  detail: unknown;
  /** The `watch` lease generation its writer held (cluster only); absent when none was held. */
  leaseGeneration?: number;
}

export type NewHistoryEntry = Omit<HistoryEntry, 'id'>;

interface Row extends Omit<HistoryEntry, 'watchId' | 'detail' | 'leaseGeneration'> {
  watch_id: number | null;
  detail: string;
  lease_generation: number | null;
}

/** The audit history of the deploy watch (table watch_history), written from the events. */
export class HistoryRepo {
  constructor(private readonly db: Db) {}

  add(entry: NewHistoryEntry): void {
    this.db
      .prepare(
        'INSERT INTO watch_history (service, at, kind, watch_id, revision, message, detail, lease_generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        entry.service,
        entry.at,
        entry.kind,
        entry.watchId,
        entry.revision,
        entry.message,
        JSON.stringify(entry.detail),
        entry.leaseGeneration ?? null,
      );
  }

  get(id: number): HistoryEntry | undefined {
    const row = this.db.prepare('SELECT * FROM watch_history WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** The id of the entry recording the event `kind` of `service` at `at` (ms), if there is one. */
  idOf(kind: string, service: string, at: number): number | undefined {
    const row = this.db
      .prepare(
        'SELECT id FROM watch_history WHERE kind = ? AND service = ? AND at = ? ORDER BY id DESC LIMIT 1',
      )
      .get(kind, service, at) as { id: number } | undefined;
    return row?.id;
  }

  /** Every entry of one watch, oldest first. */
  forWatch(watchId: number): HistoryEntry[] {
    return (
      this.db.prepare('SELECT * FROM watch_history WHERE watch_id = ? ORDER BY id').all(watchId) as Row[]
    ).map(fromRow);
  }

  /**
   * The rollback entries (`rollback:*`) outside any watch (asked for by a person or an alert), at or
   * after `since` (ms), of one service or all, oldest first.
   */
  rollbacksOutsideWatches(since: number, service?: string): HistoryEntry[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM watch_history WHERE watch_id IS NULL AND kind LIKE 'rollback:%' AND at >= ?
           AND (? IS NULL OR service = ?) ORDER BY id`,
      )
      .all(since, service ?? null, service ?? null) as Row[];
    return rows.map(fromRow);
  }

  /** The newest entries (of one service, or all), returned oldest first. */
  list(options: { service?: string | undefined; limit: number }): HistoryEntry[] {
    const rows = (
      options.service === undefined
        ? this.db.prepare('SELECT * FROM watch_history ORDER BY id DESC LIMIT ?').all(options.limit)
        : this.db
            .prepare('SELECT * FROM watch_history WHERE service = ? ORDER BY id DESC LIMIT ?')
            .all(options.service, options.limit)
    ) as Row[];
    return rows.reverse().map(fromRow);
  }
}

function fromRow({ watch_id, detail, lease_generation, ...rest }: Row): HistoryEntry {
  return {
    ...rest,
    watchId: watch_id,
    detail: JSON.parse(detail) as unknown,
    ...(lease_generation === null ? {} : { leaseGeneration: lease_generation }),
  };
}
