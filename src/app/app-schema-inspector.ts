import { listTenants } from '../backup/sources.js';
import type { Config } from '../config/schema.js';
import { SqliteSchemaInspector } from '../watch/app-schema.js';

/**
 * The application's databases as the schema comparison reads them: the main one and every
 * tenant's. A module of its own, so `status` reads the schema without loading the watch runtime
 * (and with it the Google clients).
 */
export function appSchemaInspector(config: Config): SqliteSchemaInspector {
  const sources = config.backup.sources;
  return new SqliteSchemaInspector(sources.main_db.path, async () =>
    ((await listTenants(sources.tenants.pattern, [])) ?? []).map((source) => ({
      tenant: source.tenant ?? source.entry,
      file: source.file,
    })),
  );
}
