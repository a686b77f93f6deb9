import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A process that wrote a lock or a temp file, as recorded in or beside it.
 * - `hostKey`: a short digest of the host name (`hostKeyOf`), so it fits in a file name.
 * - `start`: a short digest of the host's boot and the process's start time, when known. It tells
 *   the process that had `pid` from a later one given the same number: in a container the daemon
 *   is pid 1 after every restart, and a pid alone would say the killed one still runs.
 */
export interface ProcessRef {
  pid: number;
  hostKey: string;
  start?: string;
}

/**
 * - `alive`: the process runs on this host (or cannot be judged: a pid we may not inspect).
 * - `gone`: it ran on this host and no longer does; what it left may be removed.
 * - `elsewhere`: it ran on another host; nothing here can tell whether it still runs.
 */
export type Liveness = 'alive' | 'gone' | 'elsewhere';

/** An 8-hex digest of a host name. */
export function hostKeyOf(host: string): string {
  return createHash('sha256').update(host).digest('hex').slice(0, 8);
}

let self: ProcessRef | undefined;

/** This process. */
export function thisProcess(): ProcessRef {
  self ??= { pid: process.pid, hostKey: hostKeyOf(hostname()), start: startOf(process.pid) };
  return self;
}

/**
 * Whether the process `ref` still runs. A process of another host is `elsewhere`, never `gone`:
 * a pid says nothing about another machine. On this host, `kill(pid, 0)` failing with ESRCH means
 * gone; a process that exists but started at another time than recorded is a different process
 * that reuses the pid, so the recorded one is gone too.
 */
export function processLiveness(ref: ProcessRef): Liveness {
  const me = thisProcess();
  if (ref.hostKey !== me.hostKey) return 'elsewhere';
  if (!Number.isSafeInteger(ref.pid) || ref.pid <= 0) return 'alive'; // nothing to judge: keep
  if (ref.pid === me.pid) return ref.start === undefined || ref.start === me.start ? 'alive' : 'gone';
  try {
    process.kill(ref.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user. Any other failure: we cannot tell, so keep.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  if (ref.start === undefined) return 'alive';
  const now = startOf(ref.pid);
  return now === undefined || now === ref.start ? 'alive' : 'gone';
}

/**
 * A process as a file-name-safe tag: `<pid>.<start>.<hostKey>` (start `x` when unknown), with no
 * `-` so names can use it as one dash-separated field.
 */
export function processTag(ref: ProcessRef = thisProcess()): string {
  return `${ref.pid}.${ref.start ?? 'x'}.${ref.hostKey}`;
}

/**
 * Reads a tag written by `processTag`. A bare pid (names written before tags existed) is taken as
 * a process of this host with an unknown start. Undefined when `tag` is neither.
 */
export function parseProcessTag(tag: string): ProcessRef | undefined {
  const match = /^([1-9]\d{0,9})(?:\.([0-9a-f]{8}|x)\.([0-9a-f]{8}))?$/.exec(tag);
  if (!match) return undefined;
  const [, pid, start, hostKey] = match;
  return {
    pid: Number(pid),
    hostKey: hostKey ?? thisProcess().hostKey,
    ...(start && start !== 'x' ? { start } : {}),
  };
}

let bootId: string | undefined;

/**
 * A digest of the boot id and the start time of `pid` (field 22 of /proc/<pid>/stat, in clock
 * ticks since boot), or undefined where /proc cannot tell (not Linux, or the process just went).
 */
function startOf(pid: number): string | undefined {
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (!ticks) return undefined;
    return createHash('sha256').update(`${bootId}:${ticks}`).digest('hex').slice(0, 8);
  } catch {
    return undefined;
  }
}

/**
 * Whether the process named by `tag` (processTag) ran on this host and is gone: its leftovers may
 * be removed. An unreadable tag, or one of another host, says no.
 */
export function writerGone(tag: string): boolean {
  const writer = parseProcessTag(tag);
  return writer !== undefined && processLiveness(writer) === 'gone';
}
