import type { WatchState, WatchStatus } from '../../core/watch-types.js';
import type { Db } from '../db.js';
import type { RestorePoint } from '../../core/restore-point.js';
import type { ReleaseState } from '../../core/candidate-test.js';

/** A watch as stored, with what the watch layer adds to the core's view. */
export interface WatchRecord extends WatchState {
  service: string;
  endedAt: number | null;
  endReason: string | null;
  dryRun: boolean;
  restorePoint: RestorePoint | null;
  /** A tagged no-traffic candidate's test and release step; null for a candidate that served at once. */
  release: ReleaseState | null;
}

interface Row {
  id: number;
  service: string;
  candidate: string;
  stable: string | null;
  started_at: number;
  deadline: number;
  status: string;
  ended_at: number | null;
  end_reason: string | null;
  tripped: string;
  announced: string;
  dry_run: number;
  restore_point: string | null;
  release: string | null;
}

export interface NewWatch {
  service: string;
  candidate: string;
  stable: string | null;
  startedAt: number;
  deadline: number;
  dryRun: boolean;
}

/**
 * Watches of candidate revisions (table watches). Leaving `watching` is compare-and-set on the
 * status, so when the daemon and a CLI command race to end the same watch exactly one wins.
 */
export class WatchesRepo {
  constructor(private readonly db: Db) {}

  open(service: string): WatchRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM watches WHERE service = ? AND status = 'watching'")
      .get(service) as Row | undefined;
    return row && fromRow(row);
  }

  get(id: number): WatchRecord | undefined {
    const row = this.db.prepare('SELECT * FROM watches WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** The newest watches of a service, newest first. */
  recent(service: string, limit: number): WatchRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM watches WHERE service = ? ORDER BY id DESC LIMIT ?')
        .all(service, limit) as Row[]
    ).map(fromRow);
  }

  /** Watches started at or after `since` (ms), of every service, oldest first. */
  since(since: number): WatchRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM watches WHERE started_at >= ? ORDER BY started_at, id')
        .all(since) as Row[]
    ).map(fromRow);
  }

  /** The watch of the same service that followed watch `id`, if any. */
  next(service: string, id: number): WatchRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM watches WHERE service = ? AND id > ? ORDER BY id LIMIT 1')
      .get(service, id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Opens a watch; fails (SQLite constraint) if the service already has an open one. */
  create(watch: NewWatch): WatchRecord {
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO watches (service, candidate, stable, started_at, deadline, status, dry_run)
         VALUES (?, ?, ?, ?, ?, 'watching', ?)`,
      )
      .run(
        watch.service,
        watch.candidate,
        watch.stable,
        watch.startedAt,
        watch.deadline,
        watch.dryRun ? 1 : 0,
      );
    return this.get(Number(lastInsertRowid)) as WatchRecord;
  }

  /** Ends an open watch; false when it was not open any more (someone else ended it). */
  end(id: number, status: Exclude<WatchStatus, 'watching'>, reason: string, now: number): boolean {
    return (
      this.db
        .prepare(
          `UPDATE watches SET status = ?, end_reason = ?, ended_at = ? WHERE id = ? AND status = 'watching'`,
        )
        .run(status, reason, now, id).changes === 1
    );
  }

  setProgress(id: number, tripped: readonly string[], announced: readonly string[]): void {
    this.db
      .prepare('UPDATE watches SET tripped = ?, announced = ? WHERE id = ?')
      .run(JSON.stringify([...new Set(tripped)]), JSON.stringify([...new Set(announced)]), id);
  }

  /**
   * Adds `key` to the watch's announced keys unless it is there already: true when it was added now
   * (the caller announces), false when it was announced before or the watch is gone.
   */
  claimAnnouncement(id: number, key: string): boolean {
    const watch = this.get(id);
    if (!watch || watch.announced.includes(key)) return false;
    this.setProgress(id, watch.tripped, [...watch.announced, key]);
    return true;
  }

  /** Stores the candidate's test and release step; `deadline` moves the watch's deadline with them. */
  setRelease(id: number, release: ReleaseState, deadline?: number): void {
    this.db
      .prepare('UPDATE watches SET release = ?, deadline = COALESCE(?, deadline) WHERE id = ?')
      .run(JSON.stringify(release), deadline ?? null, id);
  }

  setRestorePoint(id: number, restorePoint: RestorePoint): void {
    this.db
      .prepare('UPDATE watches SET restore_point = ? WHERE id = ?')
      .run(JSON.stringify(restorePoint), id);
  }
}

function fromRow(row: Row): WatchRecord {
  return {
    id: row.id,
    service: row.service,
    candidate: row.candidate,
    stable: row.stable,
    startedAt: row.started_at,
    deadline: row.deadline,
    status: row.status as WatchStatus,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    tripped: JSON.parse(row.tripped) as string[],
    announced: JSON.parse(row.announced) as string[],
    dryRun: row.dry_run === 1,
    restorePoint: row.restore_point === null ? null : (JSON.parse(row.restore_point) as RestorePoint),
    release: row.release === null ? null : (JSON.parse(row.release) as ReleaseState),
  };
}
