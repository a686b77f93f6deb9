/**
 * The one key style of everything runwarden prints as JSON (`--json`) or answers over HTTP: every
 * object key, at every depth, in snake_case. Code keeps TypeScript's camelCase; the conversion is
 * done once, where a value leaves the process, so no command or route can forget a field, and
 * records stored as JSON by older versions (history details, evaluation values) come out the same.
 *
 * Only field names are converted: JSON output never puts data in key position (a map keyed by
 * revision or method names is printed as a list), so nothing a person or Cloud Run named is
 * rewritten. Values other than arrays and plain objects (strings, numbers, Dates) pass through.
 */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [snakeCase(key), snakeKeys(inner)]));
}

/** `restorePoint` -> `restore_point`, `archiveSha256` -> `archive_sha256`, `HTTPStatus` -> `http_status`. */
export function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
