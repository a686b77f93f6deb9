import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PROCESS_START } from './deadlines.js';
import { type Deadline, waitFor } from './wait.js';

// Re-exported so the suite's one wait is importable from where it always was.
export { waitFor } from './wait.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const TEST_ENV = { ...process.env, METADATA_SERVER_DETECTION: 'none', NO_COLOR: '1' };

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A backstop for a CLI run that hangs: a command run to completion here has no configured bound of
 * its own (a backup of the test's data, a restore), so this only catches a hang, far above any run.
 */
const CLI_RUN_BACKSTOP_MS = 300_000;

/** Runs the built CLI to completion (tests run `npm run build` first through `npm test`). */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...TEST_ENV, ...options.env },
    encoding: 'utf8',
    timeout: CLI_RUN_BACKSTOP_MS,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts the built CLI in the background; stdout and stderr are collected as they arrive. */
export function spawnCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return spawnProcess(process.execPath, [CLI, ...args], options);
}

/** Starts any command in the background with the tests' environment, collecting its output. */
export function spawnProcess(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: 'pipe' } = {},
) {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: { ...TEST_ENV, ...options.env },
    // `stdin: 'pipe'`: the test writes the answers a person would type (child.stdin).
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

export type SpawnedCli = ReturnType<typeof spawnProcess>;

/** The address a daemon logged as ready (its JSON "runwarden daemon ready" line), if it has. */
export function readyAddress(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { message?: string; address?: string };
    if (entry.message === 'runwarden daemon ready') return entry.address;
  }
  return undefined;
}

/**
 * Waits for a spawned daemon to log that it is ready (log level info or lower), failing at once if
 * it exits first; the derived deadlines of what it does next start from here.
 */
export function daemonReady(run: SpawnedCli): Promise<string> {
  return waitFor(
    () => {
      if (run.child.exitCode !== null || run.child.signalCode !== null)
        throw new Error(`the daemon exited before it was ready:\n${run.output.stderr}${run.output.stdout}`);
      return readyAddress(run.output.stdout);
    },
    'the daemon to be ready',
    PROCESS_START,
  );
}

/** Waits for a spawned process to exit within `within`; returns its exit code and signal. */
export function exitWithin(run: SpawnedCli, within: Deadline, what = 'the process to exit') {
  return waitFor(
    () => (run.child.exitCode === null && run.child.signalCode === null ? undefined : run.exited),
    what,
    within,
  );
}

/**
 * Waits for a spawned CLI to reach a point it shows (`check` looks at its output or its files),
 * failing at once if it exits first. No configured interval says how soon a command gets there
 * (process start, then work on the test's small data), so the bound is the process backstop.
 */
export function waitForPoint<T>(run: SpawnedCli, check: () => T | undefined, what: string): Promise<T> {
  return waitFor(
    () => {
      const value = check();
      if (value !== undefined) return value;
      if (run.child.exitCode !== null || run.child.signalCode !== null)
        throw new Error(`the process exited before ${what}:\n${run.output.stderr}${run.output.stdout}`);
      return undefined;
    },
    what,
    PROCESS_START,
  );
}
