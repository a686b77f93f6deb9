import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DatabaseSchema, FileSchemaFingerprint, SchemaFingerprint } from '../core/schema-change.js';
import { wrapError } from '../core/errors.js';
import type { SchemaInspector } from './ports.js';

/** The tenant databases there are now: id and file (listed by the composition root). */
export type TenantLister = () => Promise<ReadonlyArray<{ tenant: string; file: string }>>;

/**
 * The application's schema fingerprint, read from the files themselves: the main database's and
 * every tenant database's `PRAGMA schema_version`, and the rows of django_migrations when the table
 * exists. Opens each file read-only and briefly; WAL readers never block the application's writers.
 */
export class SqliteSchemaInspector implements SchemaInspector {
  constructor(
    private readonly file: string,
    private readonly tenants: TenantLister = async () => [],
  ) {}

  async fingerprint(signal: AbortSignal): Promise<FileSchemaFingerprint | null> {
    signal.throwIfAborted();
    if (!existsSync(this.file)) return null;
    const main = readSchema(this.file);
    const tenants: Record<string, DatabaseSchema> = {};
    let listed: Awaited<ReturnType<TenantLister>>;
    try {
      listed = await this.tenants();
    } catch (error) {
      throw wrapError('list the tenant databases', error, 'RW_SCHEMA_READ');
    }
    for (const { tenant, file } of listed) {
      signal.throwIfAborted();
      // A tenant removed between the listing and the read is simply not there.
      if (file !== this.file && existsSync(file)) tenants[tenant] = readSchema(file);
    }
    return { ...main, tenants };
  }
}

function readSchema(file: string): DatabaseSchema {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2_000 });
    const schemaVersion = db.pragma('schema_version', { simple: true }) as number;
    const hasMigrations = db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'django_migrations'")
      .get();
    const migrations = hasMigrations
      ? (
          db.prepare('SELECT app, name FROM django_migrations ORDER BY id').all() as Array<{
            app: string;
            name: string;
          }>
        ).map((row) => `${row.app}.${row.name}`)
      : null;
    return { schemaVersion, migrations };
  } catch (error) {
    throw wrapError(`read the schema of ${file}`, error, 'RW_SCHEMA_READ');
  } finally {
    db?.close();
  }
}

export const _check = SqliteSchemaInspector satisfies new (file: string) => SchemaInspector;

/**
 * One fingerprint for every service of a tick: every service's tick (and every rollback in it)
 * asks for the schema, and with fifty services and a few hundred tenant databases reading them all
 * per service would be fifty times the work for the same answer (the databases are the app's, not
 * a service's). Calls that overlap share one read; a result younger than `maxAgeMs` (the shortest
 * poll interval: one tick) is given again. A failed read is not kept.
 */
export class SharedSchemaInspector implements SchemaInspector {
  #last: { at: number; value: Promise<SchemaFingerprint | null> } | null = null;

  constructor(
    private readonly inner: SchemaInspector,
    private readonly clock: () => number,
    private readonly maxAgeMs: number,
  ) {}

  fingerprint(signal: AbortSignal): Promise<SchemaFingerprint | null> {
    const now = this.clock();
    if (this.#last && now - this.#last.at < this.maxAgeMs) return this.#last.value;
    // Read under no caller's signal: one caller giving up must not fail the others sharing it.
    const value = this.inner.fingerprint(new AbortController().signal);
    const entry = { at: now, value };
    this.#last = entry;
    value.catch(() => {
      if (this.#last === entry) this.#last = null;
    });
    signal.throwIfAborted();
    return value;
  }
}
