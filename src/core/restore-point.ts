import type { SchemaFingerprint } from './schema-change.js';

/** The backup a rollback names so a person can restore data if the schema changed since it. */
export interface RestorePoint {
  /**
   * Where the backup came from: `runwarden predeploy`, the watch's own backup, the bucket's newest
   * archive (the watch role, which takes none), or none.
   */
  source: 'predeploy' | 'watch_start' | 'bucket' | 'none';
  /** Absolute path of the archive (a gs:// URL for `bucket`), or null when none was taken. */
  backup: string | null;
  backupId: number | null;
  /** ms since the epoch. */
  takenAt: number | null;
  /** The main and tenant databases' schemas when the backup was taken; null when unknown. */
  fingerprint: SchemaFingerprint | null;
  /** Why there is no backup (turned off, failed...), or null. */
  note: string | null;
}

/** The restore point as a rollback reports it: with whether the schema changed since. */
export interface RestorePointReport extends RestorePoint {
  schemaChanged: boolean | null;
  schemaDetail: string;
  /**
   * The tenants whose database schema changed since the restore point (empty: none, or unknown);
   * absent from reports recorded before tenants were compared.
   */
  schemaTenants?: string[] | undefined;
}

export const NO_RESTORE_POINT: RestorePoint = {
  source: 'none',
  backup: null,
  backupId: null,
  takenAt: null,
  fingerprint: null,
  note: 'no pre-deploy backup is known for this deploy',
};
