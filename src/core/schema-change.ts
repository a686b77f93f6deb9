/**
 * Whether the application's database schema changed since a restore point: compares what was
 * recorded then with what is there now. Pure. Code can be rolled back alone only when it did not.
 */
export interface SchemaFingerprint {
  /** SQLite's `PRAGMA schema_version`: bumped by every schema change. */
  schemaVersion: number;
  /** Rows of django_migrations as "app.name", oldest first; null when the table does not exist. */
  migrations: string[] | null;
}

export interface SchemaChange {
  /** true: changed; false: unchanged; null: unknown (a fingerprint is missing). */
  changed: boolean | null;
  detail: string;
}

export function compareSchema(before: SchemaFingerprint | null, now: SchemaFingerprint | null): SchemaChange {
  if (!before || !now)
    return {
      changed: null,
      detail: `schema at the restore point ${before ? 'known' : 'unknown'}, now ${now ? 'known' : 'unknown'}`,
    };
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
  return parts.length === 0
    ? {
        changed: false,
        detail: `schema unchanged (schema_version ${now.schemaVersion}); rolling back code alone is enough`,
      }
    : {
        changed: true,
        detail: `schema changed: ${parts.join('; ')}; check whether the data needs the restore point`,
      };
}

function list(names: string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')}, ...` : names.join(', ');
}
