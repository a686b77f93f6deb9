import { z } from 'zod';
import { formatDuration, parseDuration } from '../core/duration.js';

/**
 * Metadata the config tools read from the schema: `description` feeds the example file and the
 * README reference; `secret` values are redacted when printed or logged and may also be given as
 * `<key>_file` (a path whose contents are the value) or `RUNWARDEN_<PATH>_FILE`.
 */
export interface OptionMeta {
  description?: string;
  secret?: boolean;
  /** Example value shown in the generated docs when there is no default. */
  example?: string;
}

export const optionMeta = z.registry<OptionMeta>();

/** Attaches docs (and the secret flag) to an option. */
export function option<T extends z.ZodType>(schema: T, meta: OptionMeta): T {
  optionMeta.add(schema, meta);
  return schema;
}

/**
 * A duration written like "7d" or "1h30m", decoded to milliseconds and encoded back to text, so
 * `config print` shows what a person wrote, not a number of milliseconds.
 */
export const duration = z.codec(
  z
    .string({ error: (issue) => `expected a duration like "7d", got ${describeValue(issue.input)}` })
    .refine((text) => parseDuration(text) !== undefined, {
      error: (issue) => `expected a duration like "7d", got ${describeValue(issue.input)}`,
    }),
  z.number().int().nonnegative(),
  {
    decode: (text) => parseDuration(text) as number,
    encode: (ms) => formatDuration(ms),
  },
);

/** "host:port" where the port is 0-65535; the host may be an IPv6 literal in brackets. */
export const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
    abort: true,
    error: (issue) => `expected an address like "127.0.0.1:9464", got ${describeValue(issue.input)}`,
  })
  .refine((text) => Number(text.slice(text.lastIndexOf(':') + 1)) <= 65_535, {
    error: (issue) => `expected a port from 0 to 65535, got ${describeValue(issue.input)}`,
  });

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
