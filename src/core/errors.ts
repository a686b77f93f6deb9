/**
 * Every error runwarden raises on purpose carries a stable `code` that callers branch on (never the
 * message), an optional `cause`, and a class that says what the caller does next:
 * - ConfigError: fix the configuration or the command line (exit code 2).
 * - RetryableError: a transient failure of something outside; trying again may work.
 * - FatalError: give up on this operation; the message says what was wrong.
 */
export class RunwardenError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ConfigError extends RunwardenError {
  /** Every problem found, each already formatted as `path: what was expected, got what`. */
  readonly problems: readonly string[];

  constructor(message: string, problems: readonly string[] = [], options?: { cause?: unknown }) {
    super('RW_CONFIG', message, options);
    this.problems = problems;
  }
}

export class UsageError extends RunwardenError {
  constructor(message: string) {
    super('RW_USAGE', message);
  }
}

export class RetryableError extends RunwardenError {}

export class FatalError extends RunwardenError {}

/**
 * Wraps `cause` with a short verb phrase saying what was being done (`open store: <cause>`), keeping
 * its code and its class, so a caller still knows whether to retry or fix the config.
 */
export function wrapError(doing: string, cause: unknown, code = 'RW_FAILED'): RunwardenError {
  const message = `${doing}: ${errorMessage(cause)}`;
  if (cause instanceof ConfigError) return new ConfigError(message, cause.problems, { cause });
  if (cause instanceof RetryableError) return new RetryableError(cause.code, message, { cause });
  if (cause instanceof RunwardenError) return new FatalError(cause.code, message, { cause });
  return new FatalError(code, message, { cause });
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Process exit codes, listed in the README. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

export function exitCodeFor(error: unknown): number {
  return error instanceof ConfigError || error instanceof UsageError ? ExitCode.usage : ExitCode.failed;
}
