import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseProcessTag, processLiveness, processTag } from '../util/liveness.js';

/**
 * How a lock file comes into being: complete or not at all. A lock file that exists but is empty
 * (the disk filled between creating it and writing the pid) would block every later run, so the
 * content is written and fsynced to a temp file first and then hard-linked into place: link()
 * fails with EEXIST when the lock exists, and is atomic on local filesystems and on NFS.
 */

/** link() errors of filesystems that have no hard links (FAT, some FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS']);

/**
 * Creates `file` holding `content` unless it exists. Returns false when it exists. Throws the
 * errno error of a failed write (ENOSPC, EACCES, ...) with nothing left behind: neither `file`
 * nor the temp file beside it.
 */
export function createLockFile(file: string, content: string): boolean {
  const temp = siblingName(file, 'tmp');
  writeComplete(temp, content);
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (NO_HARD_LINKS.has(code)) return createLockExclusively(file, content);
    // NFS may answer a retried link() with EEXIST although the first one succeeded: the temp
    // file then has two names, and the lock is ours.
    if (code === 'EEXIST') return linkCount(temp) === 2;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * The fallback where the filesystem has no hard links: creates `file` exclusively and writes
 * `content`, removing the file again on any failure so no half-made lock stays. (It is visible
 * empty for the moment between create and write; readers give such a file a grace period.)
 * Returns false when `file` exists.
 */
export function createLockExclusively(file: string, content: string): boolean {
  try {
    writeComplete(file, content);
    return true;
  } catch (error) {
    // Only the exclusive create fails with EEXIST, before anything was written or removed.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * A unique name beside `file` for a temp or set-aside copy: `<file>.<kind>-<tag>-<random>`, where
 * the tag names this process so `removeOrphans` can tell a killed writer's file from a live one's.
 */
export function siblingName(file: string, kind: 'tmp' | 'stale'): string {
  return `${file}.${kind}-${processTag()}-${randomBytes(4).toString('hex')}`;
}

/**
 * Removes temp and set-aside copies of `file` (see `siblingName`) whose writer process is gone:
 * a process killed while it created or took over the lock. Best effort; returns the names removed.
 */
export function removeOrphans(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = /^(?:tmp|stale)-([^-]+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (!name.startsWith(prefix) || !match) continue;
    const writer = parseProcessTag(match[1] as string);
    if (!writer || processLiveness(writer) !== 'gone') continue;
    rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function writeComplete(file: string, content: string): void {
  const fd = openSync(file, 'wx', 0o644);
  try {
    writeAll(fd, content);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw error;
  }
  closeSync(fd);
}

function writeAll(fd: number, content: string): void {
  const bytes = Buffer.from(content);
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

function linkCount(file: string): number {
  try {
    return statSync(file).nlink;
  } catch {
    return 0;
  }
}
