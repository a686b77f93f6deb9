import { metaMigration } from './001-meta.js';
import { backupsMigration } from './002-backups.js';
import { restoresMigration } from './003-restores.js';
import { watchMigration } from './004-watch.js';
import { alertsMigration } from './005-alerts.js';
import { owedRollbacksMigration } from './006-owed-rollbacks.js';
import { backupManifestShaMigration } from './007-backup-manifest-sha.js';
import { backupOffsiteMigration } from './008-backup-offsite.js';
import { offsiteCopiesMigration } from './009-offsite-copies.js';
import { knownGoodMigration } from './010-known-good.js';
import { leaseGenerationMigration } from './011-lease-generation.js';
import { restoreLinkCopyMigration } from './012-restore-link-copy.js';
import { releaseMigration } from './013-release.js';
import type { Migration } from './migration.js';

/**
 * Every migration, in order. test/store-migrations-registry.test.ts checks that each NNN-name.ts file
 * is listed here once, in order, with version NNN and name `name`, and versions consecutive from 1.
 */
export const MIGRATIONS: readonly Migration[] = [
  metaMigration,
  backupsMigration,
  restoresMigration,
  watchMigration,
  alertsMigration,
  owedRollbacksMigration,
  backupManifestShaMigration,
  backupOffsiteMigration,
  offsiteCopiesMigration,
  knownGoodMigration,
  leaseGenerationMigration,
  restoreLinkCopyMigration,
  releaseMigration,
];
