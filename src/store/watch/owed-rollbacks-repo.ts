import type { OwedRollback } from '../../core/owed-rollback.js';
import type { Db } from '../db.js';

/** An owed rollback as stored, with its service and when it was written. */
export interface OwedRollbackRecord extends OwedRollback {
  service: string;
  recordedAt: number;
}

export type NewOwedRollback = Omit<OwedRollbackRecord, 'id' | 'announced'>;

interface Row {
  id: number;
  service: string;
  trigger: string;
  to_revision: string;
  from_revisions: string;
  watch_id: number | null;
  reason: string;
  rule: string | null;
  decided_at: number;
  recorded_at: number;
  announced: string;
}

/**
 * Rollbacks decided but not confirmed (table watch_owed_rollbacks), at most one per service. Written
 * by the action-lease holder just before UpdateService; cleared by id, so clearing a settled debt
 * never removes a newer decision that replaced it.
 */
export class OwedRollbacksRepo {
  constructor(private readonly db: Db) {}

  get(service: string): OwedRollbackRecord | undefined {
    const row = this.db.prepare('SELECT * FROM watch_owed_rollbacks WHERE service = ?').get(service) as
      | Row
      | undefined;
    return row && fromRow(row);
  }

  /** Records what is now owed for the service, replacing an older debt; returns the new row's id. */
  record(owed: NewOwedRollback): number {
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT OR REPLACE INTO watch_owed_rollbacks
           (service, trigger, to_revision, from_revisions, watch_id, reason, rule, decided_at, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        owed.service,
        owed.trigger,
        owed.to,
        JSON.stringify(owed.from),
        owed.watchId,
        owed.reason,
        owed.rule,
        owed.decidedAt,
        owed.recordedAt,
      );
    return Number(lastInsertRowid);
  }

  /** Drops the debt `id` if it is still the one recorded; false when it was already gone. */
  clear(id: number): boolean {
    return this.db.prepare('DELETE FROM watch_owed_rollbacks WHERE id = ?').run(id).changes === 1;
  }

  /** Drops whatever the service owes (a confirmed change of its traffic settles it). */
  clearService(service: string): void {
    this.db.prepare('DELETE FROM watch_owed_rollbacks WHERE service = ?').run(service);
  }

  setAnnounced(id: number, announced: readonly string[]): void {
    this.db
      .prepare('UPDATE watch_owed_rollbacks SET announced = ? WHERE id = ?')
      .run(JSON.stringify([...new Set(announced)]), id);
  }
}

function fromRow(row: Row): OwedRollbackRecord {
  return {
    id: row.id,
    service: row.service,
    trigger: row.trigger as OwedRollback['trigger'],
    to: row.to_revision,
    from: JSON.parse(row.from_revisions) as string[],
    watchId: row.watch_id,
    reason: row.reason,
    rule: row.rule,
    decidedAt: row.decided_at,
    recordedAt: row.recorded_at,
    announced: JSON.parse(row.announced) as string[],
  };
}
