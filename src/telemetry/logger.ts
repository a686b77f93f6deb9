import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Cloud Logging's severity names, so Cloud Logging and journald read the level natively. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** Keys whose values never reach a log line, wherever they appear. */
export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  'authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.bearer_token',
  '*.cloud_monitoring_token',
  'auth_token',
  '*.auth_token',
  '*.webhook_url',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  format?: 'auto' | 'json' | 'pretty';
  /** Where lines go; tests pass a stream to read them back. Without one, to `fd`. */
  destination?: DestinationStream;
  /** The file descriptor lines go to without a destination: stdout (1, the daemon) by default. */
  fd?: 1 | 2;
}

/** Where a logger keeps its bindings; children inherit them through their prototype. */
const BINDINGS = Symbol('runwarden.bindings');

/** A logger seen as the holder of its bindings. */
type Bound = { [BINDINGS]?: Record<string, unknown> };

/**
 * The root logger. Every line is JSON with `severity`; children name their component:
 * `logger.child({ component: 'backup' })`. Pretty output only when asked or on a terminal.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty =
    options.format === 'pretty' ||
    (options.format !== 'json' && !options.destination && isTerminal(options.fd ?? 1));
  const base = {
    level: options.level ?? 'info',
    base: {},
    // pino writes a child's bindings after its parent's and the call's fields after both, so a
    // key bound twice (`component` at every level) would appear twice on one line. Bindings are
    // kept here instead and merged under the call's fields: one key, once, the nearest value.
    mixin: (_object: object, _level: number, logger: object) => ({ ...(logger as Bound)[BINDINGS] }),
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: {
      level: (label: string) => ({ level: label, severity: SEVERITY[label] ?? 'DEFAULT' }),
    },
  };
  const fd = options.fd ?? 1;
  return withMergedBindings(
    pretty
      ? prettyLogger(base, fd)
      : pino(base, options.destination ?? pino.destination({ dest: fd, sync: true })),
  );
}

function isTerminal(fd: 1 | 2): boolean {
  return (fd === 1 ? process.stdout : process.stderr).isTTY === true;
}

function prettyLogger(base: pino.LoggerOptions, fd: 1 | 2): Logger {
  return pino({
    ...base,
    transport: {
      target: 'pino-pretty',
      options: { messageKey: 'message', ignore: 'pid,hostname,severity', destination: fd },
    },
  });
}

/**
 * Makes `child(bindings)` merge its bindings over its parent's instead of appending them. The
 * override is set on the root only: pino builds each child on its parent's prototype, so every
 * descendant inherits both the override and its parent's bindings.
 */
function withMergedBindings(root: Logger): Logger {
  type Child = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const pinoChild = root.child as unknown as Child;
  (root as Bound)[BINDINGS] = { component: 'runwarden' };
  const child: Child = function (bindings, childOptions) {
    const made = pinoChild.call(this, {}, childOptions);
    (made as Bound)[BINDINGS] = { ...(this as Bound)[BINDINGS], ...bindings };
    return made;
  };
  root.child = child as unknown as Logger['child'];
  return root;
}
