import type { RuleEvaluation } from '../../core/rules.js';
import type { Db } from '../db.js';

/** A stored rule evaluation: what was measured, against what, and what the tick did about it. */
export interface EvaluationRecord extends RuleEvaluation {
  id: number;
  /** The watch evaluated; null for the guard's evaluations of a revision no watch promoted. */
  watchId: number | null;
  /** watch: a candidate during its watch; guard: the serving revision after its promotion. */
  phase: EvaluationPhase;
  /** The revision evaluated (null for evaluations stored before it was recorded). */
  revision: string | null;
  service: string;
  at: number;
  /** What the tick did: none, rollback, alert, hold, promote, end... */
  taken: string;
}

export type EvaluationPhase = 'watch' | 'guard';

/** Who made an evaluation: a watch (its id and candidate) or the guard (the serving revision). */
export interface EvaluationOwner {
  watchId: number | null;
  phase: EvaluationPhase;
  revision: string;
}

interface Row {
  id: number;
  watch_id: number | null;
  phase: string;
  revision: string | null;
  service: string;
  at: number;
  rule: string;
  signal: string;
  rule_action: string;
  window_start: number | null;
  window_end: number | null;
  query: string;
  raw: string;
  value: number | null;
  threshold: number;
  verdict: string;
  action: string;
  detail: string;
}

/** Every evaluation of every rule, so any decision can be explained later (table watch_evaluations). */
export class EvaluationsRepo {
  constructor(private readonly db: Db) {}

  /** Stores one tick's evaluations; `taken(evaluation)` says what the tick did about each. */
  add(
    owner: EvaluationOwner,
    service: string,
    at: number,
    evaluations: readonly RuleEvaluation[],
    taken: (evaluation: RuleEvaluation) => string,
  ): void {
    const insert = this.db.prepare(
      `INSERT INTO watch_evaluations (watch_id, service, at, rule, signal, rule_action, window_start, window_end,
                                      query, raw, value, threshold, verdict, action, detail, phase, revision)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const entry of evaluations) {
        insert.run(
          owner.watchId,
          service,
          at,
          entry.rule,
          entry.signal,
          entry.action,
          entry.window?.start ?? null,
          entry.window?.end ?? null,
          entry.query,
          JSON.stringify(entry.raw),
          entry.value,
          entry.threshold,
          entry.verdict,
          taken(entry),
          entry.detail,
          owner.phase,
          owner.revision,
        );
      }
    })();
  }

  /** The newest evaluations of a watch, newest first (the guard's of the revision it promoted are not). */
  forWatch(watchId: number, limit = 50): EvaluationRecord[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM watch_evaluations WHERE watch_id = ? AND phase = 'watch' ORDER BY id DESC LIMIT ?",
      )
      .all(watchId, limit) as Row[];
    return rows.map(fromRow);
  }

  /** The guard's newest evaluations of a service, newest first. */
  forGuard(service: string, limit = 50): EvaluationRecord[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM watch_evaluations WHERE service = ? AND phase = 'guard' ORDER BY at DESC, id DESC LIMIT ?",
      )
      .all(service, limit) as Row[];
    return rows.map(fromRow);
  }

  /** Deletes the guard's evaluations of `service` older than `before` (ms); returns how many went. */
  pruneGuard(service: string, before: number): number {
    return this.db
      .prepare("DELETE FROM watch_evaluations WHERE service = ? AND phase = 'guard' AND at < ?")
      .run(service, before).changes;
  }

  /** Every evaluation of a watch, oldest first (the guard's of the revision it promoted are not). */
  allForWatch(watchId: number): EvaluationRecord[] {
    return (
      this.db
        .prepare("SELECT * FROM watch_evaluations WHERE watch_id = ? AND phase = 'watch' ORDER BY id")
        .all(watchId) as Row[]
    ).map(fromRow);
  }

  /** Deletes evaluations older than `before` (ms); returns how many went. */
  prune(before: number): number {
    return this.db.prepare('DELETE FROM watch_evaluations WHERE at < ?').run(before).changes;
  }
}

function fromRow(row: Row): EvaluationRecord {
  return {
    id: row.id,
    watchId: row.watch_id,
    phase: row.phase as EvaluationPhase,
    revision: row.revision,
    service: row.service,
    at: row.at,
    rule: row.rule,
    signal: row.signal as EvaluationRecord['signal'],
    action: row.rule_action as EvaluationRecord['action'],
    window:
      row.window_start === null ? null : { start: row.window_start, end: row.window_end ?? row.window_start },
    query: row.query,
    raw: JSON.parse(row.raw) as Record<string, unknown>,
    value: row.value,
    threshold: row.threshold,
    verdict: row.verdict as EvaluationRecord['verdict'],
    detail: row.detail,
    taken: row.action,
  };
}
