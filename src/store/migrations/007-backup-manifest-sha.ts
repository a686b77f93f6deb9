import type { Migration } from './migration.js';

/**
 * The SHA-256 of each cataloged archive's manifest.json (its uncompressed bytes). A restore checks
 * the manifest against it, and then only the entries it restores against the manifest, instead of
 * hashing the whole archive. NULL for rows cataloged before this migration (or by a writer that
 * does not record it): a restore then falls back to the whole file's SHA-256 and fills it in.
 */
export const backupManifestShaMigration: Migration = {
  version: 7,
  name: 'backup-manifest-sha',
  sql: `
    ALTER TABLE backups ADD COLUMN manifest_sha256 TEXT
      CHECK (manifest_sha256 IS NULL OR length(manifest_sha256) = 64);
  `,
};
