import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { FatalError } from '../core/errors.js';

/**
 * Raised for an archive entry that must not be written: its path would land outside the restore
 * target, directly or through a symlink on disk.
 */
export class UnsafeEntryError extends FatalError {
  readonly entry: string;

  constructor(entry: string, why: string) {
    super('RW_RESTORE_UNSAFE_ENTRY', `archive entry ${JSON.stringify(entry)} refused: ${why}`);
    this.entry = entry;
  }
}

/**
 * The absolute path inside `root` where `relative` (an entry name with its archive folder, e.g.
 * `media/`, already removed) lands. Throws UnsafeEntryError for anything that could land outside
 * `root` or be read differently on another system: an absolute or drive path, a `..`, `.` or empty
 * segment, a backslash or a NUL byte. Pure: it does not look at the disk (see assertNoLinkOnTheWay).
 */
export function resolveInside(root: string, relative: string, entryName = relative): string {
  if (relative === '') throw new UnsafeEntryError(entryName, 'empty path');
  if (relative.includes('\0')) throw new UnsafeEntryError(entryName, 'NUL byte in the path');
  if (relative.includes('\\')) throw new UnsafeEntryError(entryName, 'backslash in the path');
  if (relative.startsWith('/') || /^[A-Za-z]:/.test(relative)) {
    throw new UnsafeEntryError(entryName, 'absolute path');
  }
  const segments = relative.replace(/\/$/, '').split('/');
  if (segments.includes('..')) throw new UnsafeEntryError(entryName, 'path escapes the target with ..');
  if (segments.some((segment) => segment === '' || segment === '.')) {
    throw new UnsafeEntryError(entryName, 'empty or . segment in the path');
  }
  const base = path.resolve(root);
  const resolved = path.resolve(base, ...segments);
  if (!resolved.startsWith(base + path.sep)) {
    throw new UnsafeEntryError(entryName, 'path lands outside the target');
  }
  return resolved;
}

/**
 * Refuses when a folder between `root` (itself allowed to be a link) and `file` already exists on
 * disk as a symlink, or as something other than a folder: writing through it could land outside
 * the target. Folders that do not exist yet are fine; the restore creates them.
 */
export async function assertNoLinkOnTheWay(root: string, file: string, entryName: string): Promise<void> {
  const base = path.resolve(root);
  const parts = path.relative(base, path.dirname(file)).split(path.sep).filter(Boolean);
  let current = base;
  for (const part of parts) {
    current = path.join(current, part);
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (stats.isSymbolicLink()) {
      throw new UnsafeEntryError(entryName, `${current} is a symlink; refusing to write through it`);
    }
    if (!stats.isDirectory()) throw new UnsafeEntryError(entryName, `${current} exists and is not a folder`);
  }
}
