import type { SchemaFingerprint } from '../../core/schema-change.js';
import type { Db } from '../db.js';

/** A `runwarden predeploy` (or a watch's own pre-deploy backup): the restore point of a deploy. */
export interface PredeployRecord {
  id: number;
  service: string;
  at: number;
  stable: string | null;
  backupFile: string | null;
  backupId: number | null;
  fingerprint: SchemaFingerprint | null;
  error: string | null;
  watchId: number | null;
}

interface Row {
  id: number;
  service: string;
  at: number;
  stable: string | null;
  backup_file: string | null;
  backup_id: number | null;
  fingerprint: string | null;
  error: string | null;
  watch_id: number | null;
}

export type NewPredeploy = Omit<PredeployRecord, 'id' | 'watchId'>;

/** Pre-deploy backups (table watch_predeploys); a watch claims the newest unclaimed one. */
export class PredeploysRepo {
  constructor(private readonly db: Db) {}

  add(record: NewPredeploy): PredeployRecord {
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO watch_predeploys (service, at, stable, backup_file, backup_id, fingerprint, error)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.service,
        record.at,
        record.stable,
        record.backupFile,
        record.backupId,
        record.fingerprint && JSON.stringify(record.fingerprint),
        record.error,
      );
    return { ...record, id: Number(lastInsertRowid), watchId: null };
  }

  /**
   * Claims for `watchId` the newest predeploy of `service` taken at or after `since` that no watch
   * claimed yet. Returns it, or undefined when there is none.
   */
  claim(service: string, since: number, watchId: number): PredeployRecord | undefined {
    return this.db.transaction(() => {
      const row = this.db
        .prepare(
          `SELECT * FROM watch_predeploys WHERE service = ? AND at >= ? AND watch_id IS NULL AND error IS NULL
           ORDER BY id DESC LIMIT 1`,
        )
        .get(service, since) as Row | undefined;
      if (!row) return undefined;
      this.db.prepare('UPDATE watch_predeploys SET watch_id = ? WHERE id = ?').run(watchId, row.id);
      return fromRow({ ...row, watch_id: watchId });
    })();
  }

  latest(service: string): PredeployRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM watch_predeploys WHERE service = ? ORDER BY id DESC LIMIT 1')
      .get(service) as Row | undefined;
    return row && fromRow(row);
  }
}

function fromRow(row: Row): PredeployRecord {
  return {
    id: row.id,
    service: row.service,
    at: row.at,
    stable: row.stable,
    backupFile: row.backup_file,
    backupId: row.backup_id,
    fingerprint: row.fingerprint === null ? null : (JSON.parse(row.fingerprint) as SchemaFingerprint),
    error: row.error,
    watchId: row.watch_id,
  };
}
