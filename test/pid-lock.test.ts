import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hostKeyOf, processTag, thisProcess } from '../src/util/liveness.js';
import { acquirePidLock, LockHeldError } from '../src/lock/pid-lock.js';
import { createLogger } from '../src/telemetry/logger.js';
import { fillDisk, skipSmallDisk, useSmallDisks } from './helpers/small-disk.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-pid-lock-');
const disks = useSmallDisks();

/** A logger whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    format: 'json',
    destination: new Writable({
      write: (chunk, _encoding, done) => done(void lines.push(JSON.parse(String(chunk)))),
    }),
  });
  return { logger, lines };
}

/** The pid of a process that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  return new Promise<number>((resolve) => child.once('exit', () => resolve(child.pid as number)));
}

/** Writes `content` as the lock file, dated a minute ago (older than any "being written" grace). */
function plantLock(file: string, content: string): void {
  writeFileSync(file, content);
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
}

describe('pid lock', () => {
  it('holds the lock for a live holder and removes only its own file on release', () => {
    const file = path.join(tempDir(), 'x.lock');
    const lock = acquirePidLock(file, 'a test');
    const content = JSON.parse(readFileSync(file, 'utf8'));
    expect(content).toMatchObject({ pid: process.pid, host: hostname() });
    const second = (() => {
      try {
        return acquirePidLock(file, 'a test');
      } catch (error) {
        return error;
      }
    })();
    expect(second).toBeInstanceOf(LockHeldError);
    expect((second as Error).message).toBe(`a test is already running (pid ${process.pid} holds ${file})`);
    lock.release();
    expect(existsSync(file)).toBe(false);
    // Nothing but the lock was ever visible in the folder: no temp file is left beside it.
    expect(readdirSync(path.dirname(file))).toEqual([]);
  });

  it('takes over an empty or garbled lock file, with a log line', () => {
    const dir = tempDir();
    for (const content of ['', '{"pid":', 'not json at all']) {
      const file = path.join(dir, 'x.lock');
      plantLock(file, content);
      const { logger, lines } = capturingLogger();
      const lock = acquirePidLock(file, 'a test', { logger });
      expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
      expect(lines).toEqual([
        expect.objectContaining({ message: 'taking over a stale lock', file, reason: 'unreadable' }),
      ]);
      lock.release();
    }
  });

  it('takes over the lock of a process of this host that is gone, with a log line', async () => {
    const file = path.join(tempDir(), 'x.lock');
    const pid = await deadPid();
    plantLock(file, JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00Z' }));
    const { logger, lines } = capturingLogger();
    acquirePidLock(file, 'a test', { logger }).release();
    expect(lines).toEqual([
      expect.objectContaining({
        message: 'taking over a stale lock',
        file,
        reason: 'holder gone',
        holder_pid: pid,
        holder_host: hostname(),
      }),
    ]);
  });

  it('takes over a lock whose pid now belongs to another process (a restarted container is pid 1 again)', () => {
    const file = path.join(tempDir(), 'x.lock');
    // Our own pid, recorded by an earlier process that had it: its start time differs from ours.
    plantLock(file, JSON.stringify({ pid: process.pid, host: hostname(), start: '00000000', since: 'x' }));
    const { logger, lines } = capturingLogger();
    const lock = acquirePidLock(file, 'a test', { logger });
    expect(lines).toEqual([expect.objectContaining({ reason: 'holder gone', holder_pid: process.pid })]);
    lock.release();
  });

  it('never takes over a lock written by another host, and says what to do', async () => {
    const file = path.join(tempDir(), 'x.lock');
    const pid = await deadPid();
    plantLock(file, JSON.stringify({ pid, host: 'other-host.example', since: '2026-01-01T00:00:00Z' }));
    const before = readFileSync(file);
    const error = (() => {
      try {
        return acquirePidLock(file, 'a test');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(LockHeldError);
    expect(error).toMatchObject({ code: 'RW_LOCK_HELD', holderPid: pid, holderHost: 'other-host.example' });
    expect((error as Error).message).toBe(
      `a test is already running (pid ${pid} on host other-host.example holds ${file}; ` +
        'a lock of another host is never taken over: remove the file if nothing runs there)',
    );
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("removes temp copies of the lock that a killed process left, and keeps a live one's", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.lock');
    const dead = processTag({ pid: await deadPid(), hostKey: thisProcess().hostKey });
    const elsewhere = processTag({ pid: await deadPid(), hostKey: hostKeyOf('other-host.example') });
    const names = [
      `x.lock.tmp-${dead}-0badc0de`,
      `x.lock.stale-${dead}-0badc0de`,
      `x.lock.tmp-${processTag()}-0badc0de`,
      `x.lock.tmp-${elsewhere}-0badc0de`,
    ];
    for (const name of names) writeFileSync(path.join(dir, name), '{}');
    const lock = acquirePidLock(file, 'a test');
    expect(readdirSync(dir).sort()).toEqual(['x.lock', ...names.slice(2)].sort());
    lock.release();
  });

  it('lets exactly one of several processes racing for a stale lock have it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.lock');
    plantLock(file, JSON.stringify({ pid: await deadPid(), host: hostname(), since: 'x' }));
    const module = new URL('../dist/lock/pid-lock.js', import.meta.url).href;
    // Each racer tries once and, if it won, holds the lock until its stdin closes.
    const script = `
      const { acquirePidLock } = await import(${JSON.stringify(module)});
      try { acquirePidLock(${JSON.stringify(file)}, 'a race'); process.stdout.write('won\\n'); }
      catch (error) { process.stdout.write(error.code + '\\n'); process.exit(0); }
      process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
    const racers = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
      });
      const answered = new Promise<string>((resolve) => {
        child.stdout.on('data', () => {
          if (out.endsWith('\n')) resolve(out.trim());
        });
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      return { child, answered, exited };
    });
    const answers = await Promise.all(racers.map((racer) => racer.answered));
    for (const racer of racers) racer.child.stdin.end();
    await Promise.all(racers.map((racer) => racer.exited));
    expect(answers.filter((answer) => answer === 'won')).toHaveLength(1);
    expect(answers.filter((answer) => answer !== 'won')).toEqual(Array(5).fill('RW_LOCK_HELD'));
  });
});

describe.skipIf(skipSmallDisk)('pid lock on a full disk', () => {
  it('leaves no lock file when the disk is full, and works again once space is freed', () => {
    const dir = path.join(tempDir(), 'disk');
    disks.mount(dir, '1m');
    const filler = fillDisk(dir);
    const file = path.join(dir, 'x.lock');
    const error = (() => {
      try {
        return acquirePidLock(file, 'a test');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toMatchObject({ code: 'RW_LOCK_IO' });
    expect((error as Error).message).toMatch(/^create lock .*x\.lock: .*ENOSPC/);
    expect(readdirSync(dir)).toEqual([path.basename(filler)]);

    rmSync(filler);
    acquirePidLock(file, 'a test').release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('where the disk has no room, the exclusive-create fallback leaves no half-made lock either', async () => {
    const { createLockExclusively } = await import('../src/lock/lock-file.js');
    const dir = path.join(tempDir(), 'disk');
    disks.mount(dir, '1m');
    const filler = fillDisk(dir);
    const file = path.join(dir, 'x.lock');
    expect(() => createLockExclusively(file, '{"pid":1}\n')).toThrow(/ENOSPC/);
    expect(readdirSync(dir)).toEqual([path.basename(filler)]);
    rmSync(filler);
    expect(createLockExclusively(file, '{"pid":1}\n')).toBe(true);
    expect(createLockExclusively(file, '{"pid":2}\n')).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('{"pid":1}\n');
  });
});
