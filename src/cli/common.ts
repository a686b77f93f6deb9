import type { Command } from 'commander';
import type { Level } from 'pino';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../telemetry/logger.js';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

/** The configuration a command runs with, and whether its person asked for the full log. */
export interface CommandConfig extends LoadedConfig {
  verbose: boolean;
}

/** Adds `--config`: for the daemon, whose log is its output and so has no `--verbose`. */
export function withConfigPathOption(command: Command): Command {
  return command.option(
    '-c, --config <path>',
    'config file (default: ./config/runwarden.yaml, then /etc/runwarden/runwarden.yaml)',
  );
}

/** Adds the flags every command a person runs and that reads the config shares. */
export function withConfigOption(command: Command): Command {
  return withConfigPathOption(command).option(
    '--verbose',
    'log progress on stderr at log.level (by default only warnings and errors are logged)',
  );
}

export function withJsonOption(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON');
}

export function loadFromOptions(options: GlobalOptions): CommandConfig {
  const loaded = loadConfig(options.config === undefined ? {} : { path: options.config });
  return { ...loaded, verbose: options.verbose === true };
}

/** The order of pino's levels, lowest first. */
const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * The logger of a one-shot command: log lines go to stderr so stdout stays the command's own
 * output (and valid JSON with --json). A person reads the command's summary, so only warnings and
 * errors are logged beside it unless they asked for more with --verbose; `log.level` is the
 * daemon's level, and a command's when verbose.
 */
export function commandLogger(loaded: CommandConfig): Logger {
  const configured = loaded.config.log.level;
  const quiet = LEVELS.indexOf(configured) > LEVELS.indexOf('warn') ? configured : 'warn';
  return createLogger({
    level: loaded.verbose ? configured : quiet,
    format: loaded.config.log.format,
    fd: 2,
  });
}
