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

export interface SchemaFingerprint extends DatabaseSchema {
  /**
   * Each tenant database's schema, by tenant id. Undefined in fingerprints recorded before tenants
   * were compared (their tenants are then not compared, and the detail says so).
   */
  tenants?: Record<string, DatabaseSchema> | undefined;
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
  const main = differences(before, now);
  const tenants = compareTenants(before.tenants, now.tenants);
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
function compareTenants(
  before: Record<string, DatabaseSchema> | undefined,
  now: Record<string, DatabaseSchema> | undefined,
) {
  const result = { parts: [] as string[], notes: [] as string[], changed: [] as string[], compared: 0 };
  if (before === undefined || now === undefined) {
    if (before !== undefined || now !== undefined)
      result.notes.push('tenant databases not compared (the restore point did not record them)');
    return result;
  }
  for (const tenant of Object.keys(before).sort()) {
    const then = before[tenant] as DatabaseSchema;
    const current = now[tenant];
    if (!current) continue;
    result.compared += 1;
    const parts = differences(then, current);
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

function list(names: string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')}, ...` : names.join(', ');
}
