#!/usr/bin/env -S node --max-semi-space-size=4
import { CommanderError } from 'commander';
import { ConfigError, ExitCode, errorMessage, exitCodeFor } from '../errors.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; every other parse problem is a usage error.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    process.stderr.write(`runwarden: ${errorMessage(error)}\n`);
    if (error instanceof ConfigError)
      for (const problem of error.problems) process.stderr.write(`  ${problem}\n`);
    return exitCodeFor(error);
  }
}

process.exitCode = await main(process.argv);
