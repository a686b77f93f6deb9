import type { Migration } from './migration.js';

/**
 * The guide's blue-green flow: a watch keeps its candidate's test at its tag URL (verdict, detail)
 * and the release step automatic promotion reached, as JSON, so a restarted daemon resumes the
 * release where it stopped and `runwarden promote` can refuse a candidate that did not pass.
 */
export const releaseMigration: Migration = {
  version: 13,
  name: 'release',
  sql: `ALTER TABLE watches ADD COLUMN release TEXT;`,
};
