import { stringify } from 'yaml';
import { snakeKeys } from '../core/snake-keys.js';
import { ConfigError, errorMessage, ExitCode, RunwardenError } from '../core/errors.js';

/**
 * How a command's outcome reaches stdout. Human text for people; with --json one JSON document
 * whose keys are snake_case at every depth (converted here, once, for every command), and on any
 * non-zero exit a document with an `error` object (`code`, `message`), so a script can rely on
 * `.error` alone to tell a failure.
 */

/** Writes `data` as one JSON document (for --json) or as the human text `human` renders. */
export function printResult<T>(data: T, asJson: boolean, human: (data: T) => string): void {
  process.stdout.write(asJson ? toJson(data) : ensureNewline(human(data)));
}

/** Why a command that ran to its end still failed: a stable code and one line for people. */
export interface Failure {
  code: string;
  message: string;
}

/**
 * A result that is a failure although the command ran to its end (an archive failed verification, a
 * rollback was refused): exit code 1, the usual human text, and under --json the result's own fields
 * with `error` beside them.
 */
export function printFailedResult<T extends object>(
  data: T,
  failure: Failure,
  asJson: boolean,
  human: (data: T) => string,
): void {
  process.exitCode = ExitCode.failed;
  printResult({ error: failure, ...data }, asJson, () => human(data));
}

/**
 * A thrown error under --json: `{"error": {"code", "message"}}` on stdout (with `problems` for a
 * configuration error). Anything that is not a RunwardenError has the code RW_FAILED.
 */
export function printErrorJson(error: unknown, code?: string): void {
  const failure = {
    code: code ?? (error instanceof RunwardenError ? error.code : 'RW_FAILED'),
    message: errorMessage(error),
    ...(error instanceof ConfigError ? { problems: error.problems } : {}),
  };
  process.stdout.write(toJson({ error: failure }));
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

function toJson(value: unknown): string {
  return `${JSON.stringify(snakeKeys(value), null, 2)}\n`;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
