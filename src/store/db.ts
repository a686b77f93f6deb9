import type Database from 'better-sqlite3';

/** The SQLite handle: held by the Store and the repositories it hands out, by nobody else. */
export type Db = Database.Database;
