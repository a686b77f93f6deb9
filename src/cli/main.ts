#!/usr/bin/env -S node --max-semi-space-size=4
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
