import type { Db } from '../db.js';

export type RevisionVerdict = 'good' | 'bad';

export interface RevisionMark {
  revision: string;
  verdict: RevisionVerdict;
  reason: string;
  at: number;
}

/** Revisions judged good (promoted) or bad (rolled back from, or tripped a rollback rule). */
export class RevisionsRepo {
  constructor(private readonly db: Db) {}

  /** Records the latest judgement of a revision; a later one replaces an earlier one. */
  mark(service: string, revision: string, verdict: RevisionVerdict, reason: string, now: number): void {
    this.db
      .prepare(
        `INSERT INTO watch_revisions (service, revision, verdict, reason, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (service, revision) DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason,
           at = excluded.at`,
      )
      .run(service, revision, verdict, reason, now);
  }

  bad(service: string): Set<string> {
    const rows = this.db
      .prepare("SELECT revision FROM watch_revisions WHERE service = ? AND verdict = 'bad'")
      .all(service) as Array<{ revision: string }>;
    return new Set(rows.map((row) => row.revision));
  }

  list(service: string): RevisionMark[] {
    return this.db
      .prepare('SELECT revision, verdict, reason, at FROM watch_revisions WHERE service = ? ORDER BY at DESC')
      .all(service) as RevisionMark[];
  }
}
