import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import { hostKeyOf, processLiveness, thisProcess } from '../util/liveness.js';
import { createLockFile, removeOrphans, siblingName } from './lock-file.js';

export class LockHeldError extends FatalError {
  readonly holderPid: number;
  /** Set when the holder runs on another host (its lock is never taken over from here). */
  readonly holderHost?: string;

  /** `holderPid` -1: a lock that cannot be read yet (being created). */
  constructor(file: string, purpose: string, holderPid: number, holderHost?: string) {
    const holder =
      holderPid < 0
        ? `${file} is being created by another process`
        : holderHost === undefined
          ? `pid ${holderPid} holds ${file}`
          : `pid ${holderPid} on host ${holderHost} holds ${file}; ` +
            'a lock of another host is never taken over: remove the file if nothing runs there';
    super('RW_LOCK_HELD', `${purpose} is already running (${holder})`);
    this.holderPid = holderPid;
    if (holderHost !== undefined) this.holderHost = holderHost;
  }
}

/** A held lock file; `release` is idempotent and only removes the file while it is still ours. */
export interface PidLock {
  readonly file: string;
  release(): void;
}

export interface PidLockOptions {
  /** Told, once per stale lock, that it was taken over (a killed run left it). */
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
  /**
   * How the configuration names the lock's folder (`backup.dir`, `state_dir`): a folder this
   * process may not write is then reported as `<name> <dir> is not writable by uid N`.
   */
  folderName?: string;
}

/** What a lock file holds. `token` tells this lock from an earlier one of the same process. */
interface LockContent {
  pid: number;
  host: string;
  start?: string;
  since: string;
  token: string;
}

/**
 * A lock file that cannot be read is stale, except right after it was made: where the
 * filesystem has no hard links, a lock is visible empty between its creation and its write.
 */
const UNREADABLE_GRACE_MS = 2_000;

/**
 * Takes the lock file `file` for this process. The file appears complete (pid, host, process
 * start) or not at all, even when the disk is full. A lock that cannot be read, or whose holder
 * was a process of this host that is gone, is stale: it is taken over, with a log line. A lock of
 * another host is never taken over. Throws LockHeldError (RW_LOCK_HELD) naming the holder,
 * RW_DIR_NOT_WRITABLE when the folder may not be written, or RW_LOCK_IO (errno in the cause).
 */
export function acquirePidLock(file: string, purpose: string, options: PidLockOptions = {}): PidLock {
  const me = thisProcess();
  const content: LockContent = {
    pid: me.pid,
    host: hostname(),
    ...(me.start ? { start: me.start } : {}),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  let last: Seen | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (create(file, `${JSON.stringify(content)}\n`, options)) {
      removeOrphans(file);
      return heldLock(file, content.token);
    }
    const seen = readLock(file);
    if (seen === undefined) continue; // released between our two calls: try again
    last = seen;
    const stale = staleness(seen);
    if (stale === undefined) break;
    if (takeOver(file, seen.raw))
      options.logger?.warn({ file, reason: stale, ...holderFields(seen) }, TAKE_OVER);
  }
  throw heldError(file, purpose, last);
}

const TAKE_OVER = 'taking over a stale lock';

interface Seen {
  raw: string;
  mtimeMs: number;
  holder?: LockContent;
}

function create(file: string, content: string, options: PidLockOptions): boolean {
  try {
    return createLockFile(file, content);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (options.folderName && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS'))
      throw notWritable(options.folderName, path.dirname(file), error);
    throw wrapError(`create lock ${file}`, error, 'RW_LOCK_IO');
  }
}

/** `<name> <dir> is not writable by uid N (EACCES)`: the folder needs other owners or modes. */
export function notWritable(folderName: string, dir: string, cause: unknown): FatalError {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'unknown';
  const code = (cause as NodeJS.ErrnoException).code ?? 'error';
  return new FatalError(
    'RW_DIR_NOT_WRITABLE',
    `${folderName} ${dir} is not writable by uid ${uid} (${code})`,
    {
      cause,
    },
  );
}

function readLock(file: string): Seen | undefined {
  let raw: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(`read lock ${file}`, error, 'RW_LOCK_IO');
  }
  return { raw, mtimeMs, ...(parse(raw) ? { holder: parse(raw) } : {}) };
}

function parse(raw: string): LockContent | undefined {
  try {
    const content = JSON.parse(raw) as Partial<LockContent>;
    if (!Number.isSafeInteger(content.pid) || (content.pid as number) <= 0) return undefined;
    return {
      pid: content.pid as number,
      host: typeof content.host === 'string' ? content.host : hostname(),
      ...(typeof content.start === 'string' ? { start: content.start } : {}),
      since: typeof content.since === 'string' ? content.since : '',
      token: typeof content.token === 'string' ? content.token : '',
    };
  } catch {
    return undefined;
  }
}

/** Why the lock `seen` may be taken over, or undefined while its holder may still run. */
function staleness(seen: Seen): 'unreadable' | 'holder gone' | undefined {
  const { holder } = seen;
  if (!holder) return Date.now() - seen.mtimeMs >= UNREADABLE_GRACE_MS ? 'unreadable' : undefined;
  const ref = {
    pid: holder.pid,
    hostKey: hostKeyOf(holder.host),
    ...(holder.start ? { start: holder.start } : {}),
  };
  return processLiveness(ref) === 'gone' ? 'holder gone' : undefined;
}

/**
 * Removes the stale lock whose bytes were `raw`, and only that one: the file is first moved
 * aside (atomic, so of two processes taking over only one gets it), then compared. A file that
 * is no longer the stale one (another process took over and locked between our read and our
 * move) is put back. Returns whether the stale lock was removed by us.
 */
function takeOver(file: string, raw: string): boolean {
  const aside = siblingName(file, 'stale');
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw wrapError(`take over stale lock ${file}`, error, 'RW_LOCK_IO');
  }
  let moved: string | undefined;
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    moved = undefined;
  }
  if (moved === raw) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, file);
    rmSync(aside, { force: true });
  } catch {
    // No hard links here, or a third process locked meanwhile: the earlier holder's file wins.
    renameSync(aside, file);
  }
  return false;
}

function holderFields(seen: Seen): Record<string, unknown> {
  if (!seen.holder) return {};
  return { holder_pid: seen.holder.pid, holder_host: seen.holder.host, holder_since: seen.holder.since };
}

function heldError(file: string, purpose: string, seen: Seen | undefined): LockHeldError {
  const holder = seen?.holder;
  if (!holder) return new LockHeldError(file, purpose, -1);
  const elsewhere = hostKeyOf(holder.host) !== thisProcess().hostKey;
  return new LockHeldError(file, purpose, holder.pid, elsewhere ? holder.host : undefined);
}

function heldLock(file: string, token: string): PidLock {
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      let raw: string;
      try {
        raw = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      if (parse(raw)?.token === token) rmSync(file, { force: true });
    },
  };
}
