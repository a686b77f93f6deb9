import { describe, expect, it } from 'vitest';
import { wrapError } from '../src/core/errors.js';
import { isStoreError } from '../src/store/store-errors.js';

describe('isStoreError', () => {
  it('finds a SQLite failure anywhere in the cause chain', () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(isStoreError(full)).toBe(true);
    expect(isStoreError(wrapError('record evaluation', full))).toBe(true);
    expect(isStoreError({ code: 'SQLITE_IOERR_WRITE' })).toBe(true);
  });

  it('leaves out contention and everything that is not SQLite', () => {
    expect(isStoreError(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe(false);
    expect(isStoreError(Object.assign(new Error('locked'), { code: 'SQLITE_LOCKED_SHAREDCACHE' }))).toBe(
      false,
    );
    expect(isStoreError(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe(false);
    expect(isStoreError(undefined)).toBe(false);
  });
});
