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
}

export type NewHistoryEntry = Omit<HistoryEntry, 'id'>;

interface Row extends Omit<HistoryEntry, 'watchId' | 'detail'> {
  watch_id: number | null;
  detail: string;
}

/** The audit history of the deploy watch (table watch_history), written from the events. */
export class HistoryRepo {
  constructor(private readonly db: Db) {}

  add(entry: NewHistoryEntry): void {
    this.db
      .prepare(
        'INSERT INTO watch_history (service, at, kind, watch_id, revision, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        entry.service,
        entry.at,
        entry.kind,
        entry.watchId,
        entry.revision,
        entry.message,
        JSON.stringify(entry.detail),
      );
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
    return rows.reverse().map(({ watch_id, detail, ...rest }) => ({
      ...rest,
      watchId: watch_id,
      detail: JSON.parse(detail) as unknown,
    }));
  }
}
