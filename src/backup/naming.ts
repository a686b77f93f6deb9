/**
 * Archive names and times in the configured time zone: `<prefix>_YYYYMMDD_HHMMSS.zip` and ISO-8601
 * with the zone's offset (`2026-11-28T03:00:00.000-03:00`).
 */

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(at: Date, timeZone: string): WallClock {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** `<prefix>_YYYYMMDD_HHMMSS.zip` for `at` in `timeZone`. */
export function archiveName(prefix: string, at: Date, timeZone: string): string {
  const c = wallClock(at, timeZone);
  return `${prefix}_${pad(c.year, 4)}${pad(c.month)}${pad(c.day)}_${pad(c.hour)}${pad(c.minute)}${pad(c.second)}.zip`;
}

/** Whether `fileName` is an archive name of `prefix` (a finished one: not a `.partial`). */
export function isArchiveName(fileName: string, prefix: string): boolean {
  if (!fileName.startsWith(`${prefix}_`)) return false;
  return /^\d{8}_\d{6}\.zip$/.test(fileName.slice(prefix.length + 1));
}

/** ISO-8601 with milliseconds and the zone's offset at that instant. */
export function isoWithOffset(at: Date, timeZone: string): string {
  const c = wallClock(at, timeZone);
  const ms = at.getTime() - (((at.getTime() % 1000) + 1000) % 1000);
  const offsetMinutes = Math.round(
    (Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second) - ms) / 60_000,
  );
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const millis = pad(((at.getTime() % 1000) + 1000) % 1000, 3);
  return (
    `${pad(c.year, 4)}-${pad(c.month)}-${pad(c.day)}T${pad(c.hour)}:${pad(c.minute)}:${pad(c.second)}.${millis}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}
