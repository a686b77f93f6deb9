import { parseDuration } from './duration.js';

/**
 * The start of a report's window from `--since`: an ISO-8601 time (`2026-11-28T10:00:00Z`, or a
 * date) or a duration before `now` (`2h`, `1d12h`). Undefined when `text` is neither, or is in the
 * future.
 */
export function parseSince(text: string, now: number): number | undefined {
  const trimmed = text.trim();
  const duration = parseDuration(trimmed);
  if (duration !== undefined) return now - duration;
  // Only what looks like a date: Date.parse alone accepts "1" or "May" too.
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) || at > now ? undefined : at;
}
