import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SchemaFingerprint } from '../core/schema-change.js';
import { wrapError } from '../core/errors.js';
import type { SchemaInspector } from './ports.js';

/**
 * The main database's schema fingerprint, read from the file itself: `PRAGMA schema_version`, and
 * the rows of django_migrations when the table exists. Opens the file read-only and briefly; WAL
 * readers never block the application's writers.
 */
export class SqliteSchemaInspector implements SchemaInspector {
  constructor(private readonly file: string) {}

  async fingerprint(signal: AbortSignal): Promise<SchemaFingerprint | null> {
    signal.throwIfAborted();
    if (!existsSync(this.file)) return null;
    let db: Database.Database | undefined;
    try {
      db = new Database(this.file, { readonly: true, fileMustExist: true, timeout: 2_000 });
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
      throw wrapError(`read the schema of ${this.file}`, error, 'RW_SCHEMA_READ');
    } finally {
      db?.close();
    }
  }
}

export const _check = SqliteSchemaInspector satisfies new (file: string) => SchemaInspector;
