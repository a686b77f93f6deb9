import { metaMigration } from './001-meta.js';
import { backupsMigration } from './002-backups.js';
import { restoresMigration } from './003-restores.js';
import { watchMigration } from './004-watch.js';
import { alertsMigration } from './005-alerts.js';
import { owedRollbacksMigration } from './006-owed-rollbacks.js';
import { backupManifestShaMigration } from './007-backup-manifest-sha.js';
import type { Migration } from './migration.js';

/** Every migration, in order; a test checks the versions are consecutive and the files agree. */
export const MIGRATIONS: readonly Migration[] = [
  metaMigration,
  backupsMigration,
  restoresMigration,
  watchMigration,
  alertsMigration,
  owedRollbacksMigration,
  backupManifestShaMigration,
];
