/**
 * Whether the application's database schemas changed since a restore point: compares what was
 * recorded then with what is there now, for the main database and every tenant database. Pure.
 * Code can be rolled back alone only when none did.
 */
export interface DatabaseSchema {
  /** SQLite's `PRAGMA schema_version`: bumped by every schema change. */
  schemaVersion: number;
  /** Rows of django_migrations as "app.name", oldest first; null when the table does not exist. */
  migrations: string[] | null;
}

/** The schemas read from the database files themselves (the backup and all-in-one roles). */
export interface FileSchemaFingerprint extends DatabaseSchema {
  /**
   * Each tenant database's schema, by tenant id. Undefined in fingerprints recorded before tenants
   * were compared (their tenants are then not compared, and the detail says so).
   */
  tenants?: Record<string, DatabaseSchema> | undefined;
}

/** A database's schema as a backup manifest records it (`databases[].schema`). */
export interface ArchivedDatabaseSchema {
  /** SHA-256 of the sorted (type, name, sql) rows of sqlite_master: changes with any DDL. */
  sha256: string;
  /** `PRAGMA user_version` (what migration tools set). */
  userVersion: number;
}

/**
 * The schemas read from an archive's manifest in the bucket: all a watcher, which cannot open the
 * app's files, knows. It is the schema as of when that archive was taken, not now.
 */
export interface ArchiveSchemaFingerprint {
  archive: {
    /** gs://bucket/prefix/name.zip */
    url: string;
    /** When it was taken, ms since the epoch. */
    takenAt: number;
  };
  /** null: the manifest records no schema for it (an archive written before schemas were). */
  main: ArchivedDatabaseSchema | null;
  /** Each tenant database's, by tenant id (those recorded without one left out). */
  tenants: Record<string, ArchivedDatabaseSchema>;
}

/**
 * What a restore point and "now" hold: read from the files, or from an archive's manifest. The two
 * kinds are not comparable with each other (different counters), only each with its own kind.
 */
export type SchemaFingerprint = FileSchemaFingerprint | ArchiveSchemaFingerprint;

export function isArchiveFingerprint(
  fingerprint: SchemaFingerprint,
): fingerprint is ArchiveSchemaFingerprint {
  return 'archive' in fingerprint;
}

export interface SchemaChange {
  /** true: changed; false: unchanged; null: unknown (a fingerprint is missing). */
  changed: boolean | null;
  detail: string;
  /** The tenants whose schema changed since, sorted; empty when none did (or it is unknown). */
  tenants: string[];
}

export function compareSchema(before: SchemaFingerprint | null, now: SchemaFingerprint | null): SchemaChange {
  if (!before || !now)
    return {
      changed: null,
      detail: `schema at the restore point ${before ? 'known' : 'unknown'}, now ${now ? 'known' : 'unknown'}`,
      tenants: [],
    };
  if (isArchiveFingerprint(before) || isArchiveFingerprint(now)) {
    if (isArchiveFingerprint(before) && isArchiveFingerprint(now)) return compareArchived(before, now);
    return {
      changed: null,
      detail: `schema not compared: the restore point's was read from ${isArchiveFingerprint(before) ? 'an archive' : 'the files'}, now's from ${isArchiveFingerprint(now) ? 'an archive' : 'the files'}`,
      tenants: [],
    };
  }
  const main = differences(before, now);
  const tenants = compareTenants(before.tenants, now.tenants, differences);
  const parts = [...main, ...tenants.parts];
  const notes = tenants.notes.length > 0 ? `; ${tenants.notes.join('; ')}` : '';
  if (parts.length === 0)
    return {
      changed: false,
      detail: `schema unchanged (schema_version ${now.schemaVersion}${tenants.compared > 0 ? `, ${tenants.compared} tenant database(s) too` : ''})${notes}; rolling back code alone is enough`,
      tenants: [],
    };
  const named = tenants.changed.length > 0 ? ` (tenants changed: ${list(tenants.changed)})` : '';
  return {
    changed: true,
    detail: `schema changed${named}: ${parts.join('; ')}${notes}; check whether the data needs the restore point`,
    tenants: tenants.changed,
  };
}

function differences(before: DatabaseSchema, now: DatabaseSchema): string[] {
  const parts: string[] = [];
  if (before.migrations && now.migrations) {
    const had = new Set(before.migrations);
    const added = now.migrations.filter((name) => !had.has(name));
    const removed = before.migrations.filter((name) => !now.migrations?.includes(name));
    if (added.length > 0) parts.push(`${added.length} migration(s) applied since: ${list(added)}`);
    if (removed.length > 0) parts.push(`${removed.length} migration(s) unapplied since: ${list(removed)}`);
  } else if ((before.migrations === null) !== (now.migrations === null)) {
    parts.push(`django_migrations ${before.migrations === null ? 'appeared' : 'disappeared'}`);
  }
  if (before.schemaVersion !== now.schemaVersion)
    parts.push(`schema_version ${before.schemaVersion} -> ${now.schemaVersion}`);
  return parts;
}

/**
 * Tenants present at both times are compared one by one. A tenant that appeared since (a new
 * customer, created by whatever code ran then) or disappeared is named but is no schema change of
 * data the restore point holds, so it does not count as one by itself.
 */
function compareTenants<T>(
  before: Record<string, T> | undefined,
  now: Record<string, T> | undefined,
  differ: (before: T, now: T) => string[],
) {
  const result = { parts: [] as string[], notes: [] as string[], changed: [] as string[], compared: 0 };
  if (before === undefined || now === undefined) {
    if (before !== undefined || now !== undefined)
      result.notes.push('tenant databases not compared (the restore point did not record them)');
    return result;
  }
  for (const tenant of Object.keys(before).sort()) {
    const then = before[tenant] as T;
    const current = now[tenant];
    if (current === undefined) continue;
    result.compared += 1;
    const parts = differ(then, current);
    if (parts.length === 0) continue;
    result.changed.push(tenant);
    result.parts.push(`tenant ${tenant}: ${parts.join(', ')}`);
  }
  const appeared = Object.keys(now).filter((tenant) => !(tenant in before));
  const gone = Object.keys(before).filter((tenant) => !(tenant in now));
  if (appeared.length > 0) result.notes.push(`tenants new since: ${list(appeared.sort())}`);
  if (gone.length > 0) result.notes.push(`tenants gone since: ${list(gone.sort())}`);
  return result;
}

/**
 * Two archives' manifests: the newest archive in the bucket stands for "now", so the verdict is as
 * of when it was taken, and the detail says which. The same archive at both ends says nothing about
 * now (no backup since the restore point): unknown, never "unchanged".
 */
function compareArchived(before: ArchiveSchemaFingerprint, now: ArchiveSchemaFingerprint): SchemaChange {
  const asOf = `as of ${now.archive.url} (taken ${new Date(now.archive.takenAt).toISOString()})`;
  if (before.archive.url === now.archive.url)
    return {
      changed: null,
      detail: `schema now unknown: no archive in the bucket since the restore point (${before.archive.url}), and this runwarden reads no database`,
      tenants: [],
    };
  if (!before.main || !now.main)
    return {
      changed: null,
      detail: `schema not compared: ${before.main ? now.archive.url : before.archive.url} records no schema (written by an older runwarden)`,
      tenants: [],
    };
  const main = archivedDifferences(before.main, now.main);
  const tenants = compareTenants(before.tenants, now.tenants, archivedDifferences);
  const parts = [...(main.length > 0 ? [`main database: ${main.join(', ')}`] : []), ...tenants.parts];
  const notes = tenants.notes.length > 0 ? `; ${tenants.notes.join('; ')}` : '';
  if (parts.length === 0)
    return {
      changed: false,
      detail: `schema unchanged ${asOf}${tenants.compared > 0 ? `, ${tenants.compared} tenant database(s) too` : ''}${notes}; rolling back code alone is enough`,
      tenants: [],
    };
  const named = tenants.changed.length > 0 ? ` (tenants changed: ${list(tenants.changed)})` : '';
  return {
    changed: true,
    detail: `schema changed${named} ${asOf}: ${parts.join('; ')}${notes}; check whether the data needs the restore point`,
    tenants: tenants.changed,
  };
}

function archivedDifferences(before: ArchivedDatabaseSchema, now: ArchivedDatabaseSchema): string[] {
  const parts: string[] = [];
  if (before.sha256 !== now.sha256) parts.push('definitions changed (sqlite_master differs)');
  if (before.userVersion !== now.userVersion)
    parts.push(`user_version ${before.userVersion} -> ${now.userVersion}`);
  return parts;
}

function list(names: string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')}, ...` : names.join(', ');
}
