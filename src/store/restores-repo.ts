import type { Db } from './db.js';

export type RestoreKind = 'db' | 'tenant' | 'media';
export type RestoreResult = 'running' | 'completed' | 'failed';

/** A recorded restore; times are ISO-8601 UTC. */
export interface RestoreRecord {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  archive: string;
  archiveSha256: string | null;
  kind: RestoreKind;
  /** 'main' (or the db name), the tenant id, or 'media'. */
  name: string;
  target: string;
  safetyCopy: string | null;
  safetyCopyMethod: 'snapshot' | 'raw-copy' | 'link' | null;
  preRestoreBackup: string | null;
  result: RestoreResult;
  error: string | null;
}

interface Row {
  id: number;
  started_at: string;
  finished_at: string | null;
  archive: string;
  archive_sha256: string | null;
  kind: RestoreKind;
  name: string;
  target: string;
  safety_copy: string | null;
  safety_copy_method: 'snapshot' | 'raw-copy' | 'link' | null;
  pre_restore_backup: string | null;
  result: RestoreResult;
  error: string | null;
}

/**
 * The `restores` table (migration 003). Each write is its own small transaction, so what was
 * recorded survives a crash of the restore that recorded it.
 */
export class RestoresRepo {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Records a restore as running; returns its id. */
  start(entry: {
    archive: string;
    archiveSha256?: string;
    kind: RestoreKind;
    name: string;
    target: string;
    at: Date;
  }): number {
    const result = this.#db
      .prepare(
        `INSERT INTO restores (started_at, archive, archive_sha256, kind, name, target, result)
         VALUES (?, ?, ?, ?, ?, ?, 'running')`,
      )
      .run(
        entry.at.toISOString(),
        entry.archive,
        entry.archiveSha256 ?? null,
        entry.kind,
        entry.name,
        entry.target,
      );
    return Number(result.lastInsertRowid);
  }

  recordSafetyCopy(id: number, file: string, method: 'snapshot' | 'raw-copy' | 'link'): void {
    this.#db
      .prepare('UPDATE restores SET safety_copy = ?, safety_copy_method = ? WHERE id = ?')
      .run(file, method, id);
  }

  recordPreRestoreBackup(id: number, file: string): void {
    this.#db.prepare('UPDATE restores SET pre_restore_backup = ? WHERE id = ?').run(file, id);
  }

  finish(id: number, outcome: { result: 'completed' | 'failed'; error?: string; at: Date }): void {
    this.#db
      .prepare('UPDATE restores SET result = ?, error = ?, finished_at = ? WHERE id = ?')
      .run(outcome.result, outcome.error ?? null, outcome.at.toISOString(), id);
  }

  get(id: number): RestoreRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM restores WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** Restores started at or after `from` and before `until` (ISO-8601 UTC; none: no end), oldest first. */
  between(from: string, until: string | null): RestoreRecord[] {
    const rows = this.#db
      .prepare(
        'SELECT * FROM restores WHERE started_at >= ? AND (? IS NULL OR started_at < ?) ORDER BY started_at, id',
      )
      .all(from, until, until) as Row[];
    return rows.map(toRecord);
  }

  /** Newest first. */
  list(limit = 100): RestoreRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM restores ORDER BY started_at DESC, id DESC LIMIT ?')
      .all(limit) as Row[];
    return rows.map(toRecord);
  }
}

function toRecord(row: Row): RestoreRecord {
  return {
    id: row.id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    archive: row.archive,
    archiveSha256: row.archive_sha256,
    kind: row.kind,
    name: row.name,
    target: row.target,
    safetyCopy: row.safety_copy,
    safetyCopyMethod: row.safety_copy_method,
    preRestoreBackup: row.pre_restore_backup,
    result: row.result,
    error: row.error,
  };
}
