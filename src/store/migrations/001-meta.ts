import type { Migration } from './migration.js';

export const metaMigration: Migration = {
  version: 1,
  name: 'meta',
  sql: `
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;
  `,
};
