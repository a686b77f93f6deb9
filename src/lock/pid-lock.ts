import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { FatalError, wrapError } from '../errors.js';

export class LockHeldError extends FatalError {
  readonly holderPid: number;

  constructor(file: string, purpose: string, holderPid: number) {
    super('RW_LOCK_HELD', `${purpose} is already running (pid ${holderPid} holds ${file})`);
    this.holderPid = holderPid;
  }
}

interface LockContent {
  pid: number;
  host: string;
  since: string;
}

/** A held lock file; `release` is idempotent and only removes the file while it is still ours. */
export interface PidLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the lock file `file` for this process (created exclusively, holding our pid). When the file
 * names a process on this host that no longer exists, the stale lock is taken over. Throws
 * LockHeldError naming the holder's pid when a live process holds it.
 */
export function acquirePidLock(file: string, purpose: string): PidLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file)) return heldLock(file);
    const holder = readHolder(file);
    if (holder === undefined) continue; // vanished or half-written between our calls: try again
    if (holder.host === hostname() && !isAlive(holder.pid)) {
      // Move the stale file aside atomically, so two processes taking over cannot both succeed.
      try {
        renameSync(file, `${file}.stale-${process.pid}`);
        rmSync(`${file}.stale-${process.pid}`, { force: true });
      } catch {
        // another process moved it first; loop and compete for the fresh file
      }
      continue;
    }
    throw new LockHeldError(file, purpose, holder.pid);
  }
  const holder = readHolder(file);
  throw new LockHeldError(file, purpose, holder?.pid ?? -1);
}

function tryCreate(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw wrapError(`create lock ${file}`, error, 'RW_LOCK_IO');
  }
  const content: LockContent = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  try {
    writeSync(fd, `${JSON.stringify(content)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readHolder(file: string): LockContent | undefined {
  try {
    const content = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    if (typeof content.pid !== 'number') return undefined;
    return { pid: content.pid, host: content.host ?? hostname(), since: content.since ?? '' };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function heldLock(file: string): PidLock {
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
    },
  };
}
