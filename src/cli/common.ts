import type { Command } from 'commander';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../telemetry/logger.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/** Adds the flags every command that reads the config shares. */
export function withConfigOption(command: Command): Command {
  return command.option(
    '-c, --config <path>',
    'config file (default: ./config/runwarden.yaml, then /etc/runwarden/runwarden.yaml)',
  );
}

export function withJsonOption(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON');
}

export function loadFromOptions(options: GlobalOptions): LoadedConfig {
  return loadConfig(options.config === undefined ? {} : { path: options.config });
}

/**
 * The logger of a one-shot command: log lines go to stderr so stdout stays the command's own
 * output (and valid JSON with --json).
 */
export function commandLogger(loaded: LoadedConfig): Logger {
  return createLogger({
    level: loaded.config.log.level,
    format: loaded.config.log.format === 'pretty' || process.stderr.isTTY ? 'pretty' : 'json',
    destination: process.stderr.isTTY
      ? undefined
      : (process.stderr as unknown as import('pino').DestinationStream),
  });
}
