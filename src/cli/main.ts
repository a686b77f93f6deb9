#!/usr/bin/env -S node --max-semi-space-size=4 --v8-pool-size=1
// The flags above are how every runwarden process runs (the systemd unit and the Dockerfile repeat
// them; test/packaging.test.ts checks they agree). Measured at 500 watched services (bench rows 7
// and 13, issue 18):
// - --max-semi-space-size=4: a 4 MiB young generation (V8's default is 16) keeps the idle daemon
//   near 120 MiB instead of ~145 MiB, with no measurable cost to backup speed.
// - --v8-pool-size=1: one V8 platform worker thread instead of one per core. The daemon is idle
//   most of the time and its peak RSS was garbage waiting for collection plus per-thread memory
//   (stacks, malloc arenas, GC worker state); with one worker, peak RSS at 500 services fell from
//   180 to 139 MiB, CPU unchanged (8.9 %), /metrics scrape 27 ms against 38. Not
//   --optimize-for-size: it met the RSS targets too but made /metrics scrapes ~50x slower.
//   Measured and left out: MALLOC_ARENA_MAX=2 (-12 MiB at 500 services, but the no-services
//   daemon over 90 MiB in that run), --single-threaded-gc (+8 MiB), --max-semi-space-size=2 (-15 MiB,
//   less than the pool size alone).
import { CommanderError } from 'commander';
import { ConfigError, ExitCode, errorMessage, exitCodeFor } from '../core/errors.js';
import { printErrorJson } from './output.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<number> {
  // Read from argv, not from parsed options: a parse error (an unknown flag) must answer in JSON too.
  const asJson = argv.slice(2).includes('--json');
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; every other parse problem is a usage error (commander has
      // already said which on stderr).
      if (error.exitCode === 0) return ExitCode.ok;
      if (asJson) printErrorJson(new Error(error.message.replace(/^error: /, '')), 'RW_USAGE');
      return ExitCode.usage;
    }
    process.stderr.write(`runwarden: ${errorMessage(error)}\n`);
    if (error instanceof ConfigError)
      for (const problem of error.problems) process.stderr.write(`  ${problem}\n`);
    if (asJson) printErrorJson(error);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv);
