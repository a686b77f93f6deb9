/**
 * A numbered schema change. Versions are consecutive from 1; a shipped migration is never edited,
 * a new one is added instead. `PRAGMA user_version` records the last one applied.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
