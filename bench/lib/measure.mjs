// Running a command as a child and measuring it: wall time (our clock), peak RSS and CPU seconds
// (GNU time's rusage of the child, which covers everything the child waited for).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TIME = '/usr/bin/time';

/**
 * Runs `command args` under /usr/bin/time; resolves
 * `{ code, wallMs, maxRssBytes, cpuMs, stdout, stderr, startedAt, finishedAt }` (epoch ms, fractional).
 * Rejects when the command exits non-zero unless `allowFailure`.
 */
export async function measure(command, args, { cwd, env, input, allowFailure = false, timeoutMs } = {}) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'rw-bench-time-'));
  const report = path.join(scratch, 'rusage');
  try {
    const startedAt = epochNow();
    const result = await run(TIME, ['-f', '%M %U %S', '-o', report, command, ...args], {
      cwd,
      env,
      input,
      timeoutMs,
    });
    const finishedAt = epochNow();
    const [maxRssKb, user, system] = lastLine(readFileSync(report, 'utf8')).split(' ').map(Number);
    const measured = {
      ...result,
      wallMs: finishedAt - startedAt,
      maxRssBytes: maxRssKb * 1024,
      cpuMs: (user + system) * 1000,
      startedAt,
      finishedAt,
    };
    if (result.code !== 0 && !allowFailure) {
      throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-2000)}`);
    }
    return measured;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Several measured steps as one: wall and CPU add up, peak memory is the largest step's. */
export function combine(steps) {
  return {
    wallMs: steps.reduce((sum, step) => sum + step.wallMs, 0),
    cpuMs: steps.reduce((sum, step) => sum + step.cpuMs, 0),
    maxRssBytes: Math.max(...steps.map((step) => step.maxRssBytes)),
  };
}

/** Spawns and collects output; resolves `{ code, stdout, stderr }`. */
export function run(command, args, { cwd, env, input, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A child that exits without reading its stdin (most do) closes the pipe: EPIPE is expected.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** Wall-clock time in ms with sub-ms precision, comparable across processes on this machine. */
export function epochNow() {
  return performance.timeOrigin + performance.now();
}

function lastLine(text) {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1];
}
