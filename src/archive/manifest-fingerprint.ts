import type { ArchivedDatabaseSchema, ArchiveSchemaFingerprint } from '../core/schema-change.js';
import type { Manifest } from './manifest.js';

/**
 * The schemas an archive's manifest records, as the schema comparison takes them: the main
 * database's and each tenant's (by the tenant id of its entry). A database recorded without a
 * schema (an archive older than schemas in manifests) is left out; a main one so left out makes
 * `main` null, and the comparison then says it cannot tell.
 */
export function manifestFingerprint(
  manifest: Manifest,
  archive: ArchiveSchemaFingerprint['archive'],
): ArchiveSchemaFingerprint {
  const entries = new Map(manifest.entries.map((entry) => [entry.path, entry]));
  let main: ArchivedDatabaseSchema | null = null;
  const tenants: Record<string, ArchivedDatabaseSchema> = {};
  for (const database of manifest.databases) {
    if (!database.schema) continue;
    const schema = { sha256: database.schema.sha256, userVersion: database.schema.user_version };
    const entry = entries.get(database.entry);
    if (entry?.kind === 'db') main = schema;
    else if (entry?.kind === 'tenant' && entry.tenant !== undefined) tenants[entry.tenant] = schema;
  }
  return { archive, main, tenants };
}
