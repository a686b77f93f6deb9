import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach } from 'vitest';
import { PROCESS_START } from './deadlines.js';
import { waitFor } from './wait.js';

// Debian's `prometheus` and `prometheus-alertmanager` packages, started on loopback ports with
// temp folders; never the system services.

export interface RunningTool {
  url: string;
  output: () => string;
  stop: () => Promise<void>;
}

/** A free loopback port: bound, read and released (the tool binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startTool(
  binary: string,
  args: string[],
  port: number,
  readyPath: string,
  packageName: string,
): Promise<RunningTool> {
  let output = '';
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
    child.kill('SIGTERM');
    // Not a deadline of the test: a tool that ignores SIGTERM is killed rather than left behind.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor(
      async () => {
        if (spawnError)
          throw new Error(
            `${binary} could not start (install Debian package "${packageName}"): ${spawnError.message}`,
          );
        if (child.exitCode !== null) throw new Error(`${binary} exited with ${child.exitCode}:\n${output}`);
        try {
          return (await fetch(`${url}${readyPath}`)).ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      `${binary} to be ready on ${url}`,
      PROCESS_START,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output: () => output, stop };
}

/** Starts Prometheus with `config` (YAML text) and rule files written beside it. */
export async function startPrometheus(
  dir: string,
  config: string,
  files: Record<string, string> = {},
): Promise<RunningTool> {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeFileSync(path.join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const port = await freePort();
  return startTool(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    port,
    '/-/ready',
    'prometheus',
  );
}

/** Starts Alertmanager with `config` (YAML text); clustering off. */
export async function startAlertmanager(dir: string, config: string): Promise<RunningTool> {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeFileSync(path.join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  return startTool(
    'prometheus-alertmanager',
    [
      `--config.file=${path.join(dir, 'alertmanager.yml')}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    port,
    '/-/ready',
    'prometheus-alertmanager',
  );
}

/** Stops every tool started through the returned function after each test. */
export function useTools(): (tool: Promise<RunningTool>) => Promise<RunningTool> {
  const running: RunningTool[] = [];
  afterEach(async () => {
    for (const tool of running.splice(0).reverse()) await tool.stop();
  });
  return async (tool) => {
    const started = await tool;
    running.push(started);
    return started;
  };
}

/** Runs an instant query through Prometheus's HTTP API. */
export async function query(
  prometheus: string,
  expr: string,
): Promise<{
  status: string;
  error?: string;
  data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}> {
  const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as never;
}
