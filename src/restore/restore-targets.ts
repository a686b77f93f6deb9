import path from 'node:path';
import type { BackupSourcesConfig } from '../config/schema/backup.js';
import { FatalError, UsageError } from '../core/errors.js';
import { type Manifest, TENANT_ID_PATTERN } from '../archive/manifest.js';

/** What to restore: the main database, one tenant's database, or the media folder. */
export type RestoreSelection =
  | { kind: 'db'; name: string }
  | { kind: 'tenant'; tenant: string }
  | { kind: 'media' };

/** Where a selection comes from in the archive and where it goes on disk (absolute). */
export interface RestorePlanTarget {
  kind: RestoreSelection['kind'];
  /** 'main', the tenant id, or 'media'. */
  name: string;
  /** The archive entry (db/tenant) or entry folder prefix (media: `media/`). */
  entry: string;
  /** The database file to replace, or the media folder to write into. */
  target: string;
}

/**
 * Resolves a selection against the (already resolved, absolute) `backup.sources` config; `override`
 * (--target) replaces the configured location. Throws UsageError for a malformed tenant id or db
 * name (exit 2), before anything is read.
 */
export function resolveTarget(
  selection: RestoreSelection,
  sources: BackupSourcesConfig,
  override?: string,
): RestorePlanTarget {
  const chosen = (configured: string) => path.resolve(override ?? configured);
  switch (selection.kind) {
    case 'db': {
      const main = path.basename(sources.main_db.path);
      if (selection.name !== 'main' && selection.name !== main) {
        throw new UsageError(
          `--db ${selection.name}: only the main database can be restored ("main" or "${main}")`,
        );
      }
      return { kind: 'db', name: 'main', entry: `db/${main}`, target: chosen(sources.main_db.path) };
    }
    case 'tenant': {
      if (!TENANT_ID_PATTERN.test(selection.tenant)) {
        throw new UsageError(
          `--tenant ${JSON.stringify(selection.tenant)}: a tenant id is letters, digits, ".", "_" and "-"`,
        );
      }
      return {
        kind: 'tenant',
        name: selection.tenant,
        entry: `tenants/${selection.tenant}.sqlite3`,
        target: chosen(sources.tenants.pattern.replace('{tenant}', selection.tenant)),
      };
    }
    case 'media':
      return { kind: 'media', name: 'media', entry: 'media/', target: chosen(sources.media.dir) };
  }
}

/**
 * Settles the archive entry of a resolved target against the archive's manifest. Throws FatalError
 * RW_RESTORE_NO_ENTRY naming what the archive does hold when the selection is not in it.
 */
export function entryFor(
  resolved: RestorePlanTarget,
  manifest: Manifest,
  archive: string,
): RestorePlanTarget {
  const missing = (what: string, has: string[]) =>
    new FatalError(
      'RW_RESTORE_NO_ENTRY',
      `backup ${archive} has no ${what}; it holds ${has.length > 0 ? has.join(', ') : 'none'}`,
    );
  switch (resolved.kind) {
    case 'db': {
      const dbs = manifest.entries.filter((entry) => entry.kind === 'db').map((entry) => entry.path);
      // Named like the configured main database; an archive's only db entry also does (the source
      // file may have been renamed since the backup).
      const entry = dbs.includes(resolved.entry) ? resolved.entry : dbs.length === 1 ? dbs[0] : undefined;
      if (!entry) throw missing(`main database entry ${resolved.entry}`, dbs);
      return { ...resolved, entry };
    }
    case 'tenant': {
      if (!manifest.entries.some((item) => item.path === resolved.entry)) {
        const tenants = manifest.entries
          .filter((item) => item.kind === 'tenant')
          .map((item) => item.tenant ?? item.path);
        throw missing(`tenant ${resolved.name}`, tenants);
      }
      return resolved;
    }
    case 'media':
      if (!manifest.entries.some((item) => item.kind === 'media')) throw missing('media files', []);
      return resolved;
  }
}
