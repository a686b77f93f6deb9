/**
 * Whether `error`, or anything in its `cause` chain, is a failure of SQLite itself (better-sqlite3's
 * SqliteError carries codes like SQLITE_FULL, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_READONLY).
 * Busy and locked are left out: they are contention another attempt resolves, not a broken store.
 */
export function isStoreError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 10; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('SQLITE_') && !/^SQLITE_(BUSY|LOCKED)/.test(code))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
