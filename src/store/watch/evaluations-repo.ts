import type { RuleEvaluation } from '../../core/rules.js';
import type { Db } from '../db.js';

/** A stored rule evaluation: what was measured, against what, and what the tick did about it. */
export interface EvaluationRecord extends RuleEvaluation {
  id: number;
  watchId: number;
  service: string;
  at: number;
  /** What the tick did: none, rollback, alert, hold, promote, end... */
  taken: string;
}

interface Row {
  id: number;
  watch_id: number;
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
    watchId: number,
    service: string,
    at: number,
    evaluations: readonly RuleEvaluation[],
    taken: (evaluation: RuleEvaluation) => string,
  ): void {
    const insert = this.db.prepare(
      `INSERT INTO watch_evaluations (watch_id, service, at, rule, signal, rule_action, window_start, window_end,
                                      query, raw, value, threshold, verdict, action, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const entry of evaluations) {
        insert.run(
          watchId,
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
        );
      }
    })();
  }

  /** The newest evaluations of a watch, newest first. */
  forWatch(watchId: number, limit = 50): EvaluationRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM watch_evaluations WHERE watch_id = ? ORDER BY id DESC LIMIT ?')
      .all(watchId, limit) as Row[];
    return rows.map(fromRow);
  }

  /** Every evaluation of a watch, oldest first. */
  allForWatch(watchId: number): EvaluationRecord[] {
    return (
      this.db.prepare('SELECT * FROM watch_evaluations WHERE watch_id = ? ORDER BY id').all(watchId) as Row[]
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
