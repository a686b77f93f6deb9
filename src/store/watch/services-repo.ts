import type { Snapshot } from '../../core/watch-types.js';
import type { Db } from '../db.js';

/** What runwarden keeps about one watched service (table watch_services). */
export interface ServiceRow {
  service: string;
  stableRevision: string | null;
  stableSince: number | null;
  stableReason: string | null;
  frozen: boolean;
  frozenAt: number | null;
  frozenReason: string | null;
  snapshot: Snapshot | null;
  polledAt: number | null;
  lastAutoRollbackAt: number | null;
  actionOwner: string | null;
  actionUntil: number | null;
}

interface Row {
  service: string;
  stable_revision: string | null;
  stable_since: number | null;
  stable_reason: string | null;
  frozen: number;
  frozen_at: number | null;
  frozen_reason: string | null;
  snapshot: string | null;
  polled_at: number | null;
  last_auto_rollback_at: number | null;
  action_owner: string | null;
  action_until: number | null;
}

/**
 * Per-service state: the last known good revision, the freeze flag, the last poll, the cooldown
 * clock and the action lease. Every write is one statement.
 */
export class ServicesRepo {
  constructor(private readonly db: Db) {}

  get(service: string): ServiceRow | undefined {
    const row = this.db.prepare('SELECT * FROM watch_services WHERE service = ?').get(service) as
      | Row
      | undefined;
    return row && fromRow(row);
  }

  list(): ServiceRow[] {
    return (this.db.prepare('SELECT * FROM watch_services ORDER BY service').all() as Row[]).map(fromRow);
  }

  /** Creates the row if it is missing; never changes an existing one. */
  ensure(service: string, now: number): void {
    this.db
      .prepare(
        'INSERT INTO watch_services (service, updated_at) VALUES (?, ?) ON CONFLICT (service) DO NOTHING',
      )
      .run(service, now);
  }

  setStable(service: string, revision: string, reason: string, now: number): void {
    this.ensure(service, now);
    this.db
      .prepare(
        `UPDATE watch_services SET stable_revision = ?, stable_since = ?, stable_reason = ?, updated_at = ?
         WHERE service = ?`,
      )
      .run(revision, now, reason, now, service);
  }

  /**
   * Freezes (with `reason`, stored as given) or unfreezes a service. `frozenAt` is the time it was
   * first frozen: freezing a frozen service keeps it.
   */
  setFrozen(service: string, frozen: boolean, reason: string | null, now: number): void {
    this.ensure(service, now);
    this.db
      .prepare(
        `UPDATE watch_services SET frozen = ?, frozen_at = CASE WHEN ? THEN COALESCE(frozen_at, ?) END,
           frozen_reason = ?, updated_at = ? WHERE service = ?`,
      )
      .run(frozen ? 1 : 0, frozen ? 1 : 0, now, frozen ? reason : null, now, service);
  }

  saveSnapshot(service: string, snapshot: Snapshot, now: number): void {
    this.ensure(service, now);
    this.db
      .prepare('UPDATE watch_services SET snapshot = ?, polled_at = ?, updated_at = ? WHERE service = ?')
      .run(JSON.stringify(snapshot), now, now, service);
  }

  setLastAutoRollback(service: string, at: number): void {
    this.db
      .prepare('UPDATE watch_services SET last_auto_rollback_at = ?, updated_at = ? WHERE service = ?')
      .run(at, at, service);
  }

  /**
   * Takes the per-service action lease for `owner` until `until` unless another live owner holds
   * it. Returns the holder that blocked it, or null when the lease is now `owner`'s.
   */
  acquireAction(service: string, owner: string, until: number, now: number): string | null {
    this.ensure(service, now);
    const changed = this.db
      .prepare(
        `UPDATE watch_services SET action_owner = ?, action_until = ?
         WHERE service = ? AND (action_owner IS NULL OR action_owner = ? OR action_until < ?)`,
      )
      .run(owner, until, service, owner, now).changes;
    return changed === 1 ? null : (this.get(service)?.actionOwner ?? 'unknown');
  }

  /** Takes the lease from `deadOwner` (a holder known to be gone); false if someone else got it first. */
  takeOverAction(service: string, deadOwner: string, owner: string, until: number): boolean {
    return (
      this.db
        .prepare(
          'UPDATE watch_services SET action_owner = ?, action_until = ? WHERE service = ? AND action_owner = ?',
        )
        .run(owner, until, service, deadOwner).changes === 1
    );
  }

  releaseAction(service: string, owner: string): void {
    this.db
      .prepare(
        'UPDATE watch_services SET action_owner = NULL, action_until = NULL WHERE service = ? AND action_owner = ?',
      )
      .run(service, owner);
  }
}

function fromRow(row: Row): ServiceRow {
  return {
    service: row.service,
    stableRevision: row.stable_revision,
    stableSince: row.stable_since,
    stableReason: row.stable_reason,
    frozen: row.frozen === 1,
    frozenAt: row.frozen_at,
    frozenReason: row.frozen_reason,
    snapshot: row.snapshot === null ? null : (JSON.parse(row.snapshot) as Snapshot),
    polledAt: row.polled_at,
    lastAutoRollbackAt: row.last_auto_rollback_at,
    actionOwner: row.action_owner,
    actionUntil: row.action_until,
  };
}
