/**
 * A restore drill's verdicts: what a restored database shows against what the archive's manifest
 * recorded of its snapshot. Pure: the facts are read elsewhere (archive/sqlite-facts.ts).
 */

/** Rows per table and the schema of one SQLite database (the manifest's `tables` and `schema`). */
export interface DatabaseFacts {
  tables: Record<string, number>;
  schema: { sha256: string; user_version: number };
}

/**
 * How much a drill could check: `full` compares row counts and schema with the manifest;
 * `integrity-and-hashes` is for archives written before the manifest recorded them.
 */
export type DrillChecks = 'full' | 'integrity-and-hashes';

/** What the manifest may say of a database: older archives have neither field. */
export type RecordedFacts = Partial<DatabaseFacts>;

/** Whether `recorded` holds what a full comparison needs. */
export function checksFor(recorded: RecordedFacts): DrillChecks {
  return recorded.tables !== undefined && recorded.schema !== undefined ? 'full' : 'integrity-and-hashes';
}

/**
 * Every difference between the restored copy's `observed` facts and the manifest's `recorded`
 * ones, each one line naming `label` (e.g. `tenant acme`) and the table, e.g.
 * `tenant acme: table orders has 120 rows, the manifest says 121`. Empty when they agree, or when
 * the manifest recorded nothing to compare (see checksFor). Tables in name order.
 */
export function compareWithManifest(
  label: string,
  recorded: RecordedFacts,
  observed: DatabaseFacts,
): string[] {
  const differences: string[] = [];
  if (recorded.tables) {
    const names = [...new Set([...Object.keys(recorded.tables), ...Object.keys(observed.tables)])].sort();
    for (const name of names) {
      const expected = recorded.tables[name];
      const seen = observed.tables[name];
      if (expected === seen) continue;
      if (seen === undefined)
        differences.push(`${label}: table ${name} is missing, the manifest says ${rows(expected as number)}`);
      else if (expected === undefined)
        differences.push(`${label}: table ${name} (${rows(seen)}) is not in the manifest`);
      else differences.push(`${label}: table ${name} has ${rows(seen)}, the manifest says ${expected}`);
    }
  }
  if (recorded.schema) {
    if (recorded.schema.sha256 !== observed.schema.sha256)
      differences.push(
        `${label}: the schema differs from the manifest's (SHA-256 ${short(observed.schema.sha256)}, ` +
          `the manifest says ${short(recorded.schema.sha256)})`,
      );
    if (recorded.schema.user_version !== observed.schema.user_version)
      differences.push(
        `${label}: user_version is ${observed.schema.user_version}, the manifest says ${recorded.schema.user_version}`,
      );
  }
  return differences;
}

function rows(count: number): string {
  return count === 1 ? '1 row' : `${count} rows`;
}

function short(sha256: string): string {
  return sha256.slice(0, 12);
}
