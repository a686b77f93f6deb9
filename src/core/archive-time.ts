/**
 * The instant an archive was taken, read back from its name `<prefix>_YYYYMMDD_HHMMSS.zip`, which is
 * written in the backup's time zone. Remote copies are judged by it: an object's upload time says
 * when it was copied (a backlog caught up in one go would look a day old), not when it was taken.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Ms since the epoch of the archive named `fileName` (a base name, or an object name ending in one),
 * or undefined when it is not an archive name of `prefix` or names no real date. In an hour that a
 * daylight-saving change repeats, the earlier instant. Throws RangeError for an unknown time zone.
 */
export function archiveTime(fileName: string, prefix: string, timeZone: string): number | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  if (!base.startsWith(`${prefix}_`)) return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})\.zip$/.exec(base.slice(prefix.length + 1));
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(wall);
  // Date.UTC rolls 2026-02-30 over to March: such a name is not one runwarden wrote.
  if (
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined;
  // The offsets in force half a day either side cover any change near the wall time; a candidate
  // is right when the zone shows the wall time at it. Two are right in a repeated hour.
  const HALF_DAY = 43_200_000;
  const right = [wall - HALF_DAY, wall, wall + HALF_DAY]
    .map((near) => wall - offsetOf(near, timeZone))
    .filter((candidate) => candidate + offsetOf(candidate, timeZone) === wall);
  if (right.length > 0) return Math.min(...right);
  return undefined; // a time that the zone skips (spring forward): never written by runwarden
}

/** The zone's offset from UTC at `time`, in ms (positive east of Greenwich). */
function offsetOf(time: number, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(time).map((part) => [part.type, Number(part.value)]));
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return asUtc - (time - (((time % 1000) + 1000) % 1000));
}
