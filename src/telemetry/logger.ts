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
  '*.webhook_url',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  format?: 'auto' | 'json' | 'pretty';
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/**
 * The root logger. Every line is JSON with `severity`; children name their component:
 * `logger.child({ component: 'backup' })`. Pretty output only when asked or on a terminal.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty =
    options.format === 'pretty' ||
    (options.format !== 'json' && !options.destination && process.stdout.isTTY);
  const base = {
    level: options.level ?? 'info',
    base: { component: 'runwarden' },
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: {
      level: (label: string) => ({ level: label, severity: SEVERITY[label] ?? 'DEFAULT' }),
    },
  };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { messageKey: 'message', ignore: 'pid,hostname,severity' },
      },
    });
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }));
}
