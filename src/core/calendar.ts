import { FatalError } from './errors.js';

/** A calendar period retention buckets by; weeks are ISO weeks (Monday to Sunday). */
export type CalendarPeriod = 'hour' | 'day' | 'week' | 'month' | 'year';

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * A function naming the calendar period an instant (ms since the epoch) falls in, as seen in the
 * IANA time zone `timeZone`: '2026-11-27T14' (hour), '2026-11-27' (day), '2026-W48' (ISO week, with
 * its ISO year), '2026-11' (month), '2026' (year). Two instants share a period exactly when they
 * get the same name. Throws FatalError RW_RETENTION_POLICY for an unknown zone.
 */
export function calendarBucketer(period: CalendarPeriod, timeZone: string): (time: number) => string {
  const format = formatterFor(timeZone);
  return (time) => {
    const { year, month, day, hour } = fieldsOf(format, time);
    switch (period) {
      case 'hour':
        return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}`;
      case 'day':
        return `${year}-${pad(month)}-${pad(day)}`;
      case 'week': {
        const { isoYear, week } = isoWeek(year, month, day);
        return `${isoYear}-W${pad(week)}`;
      }
      case 'month':
        return `${year}-${pad(month)}`;
      case 'year':
        return String(year);
    }
  };
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format) return format;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
    });
  } catch (error) {
    throw new FatalError('RW_RETENTION_POLICY', `retention timezone: unknown time zone "${timeZone}"`, {
      cause: error,
    });
  }
  formatters.set(timeZone, format);
  return format;
}

function fieldsOf(format: Intl.DateTimeFormat, time: number) {
  const fields = { year: 0, month: 0, day: 0, hour: 0 };
  for (const part of format.formatToParts(time)) {
    if (part.type === 'year' || part.type === 'month' || part.type === 'day' || part.type === 'hour') {
      fields[part.type] = Number(part.value);
    }
  }
  return fields;
}

/** ISO-8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { isoYear: number; week: number } {
  const dayMs = 86_400_000;
  const date = Date.UTC(year, month - 1, day);
  const weekday = new Date(date).getUTCDay() || 7; // Monday 1 .. Sunday 7
  const thursday = date + (4 - weekday) * dayMs;
  const isoYear = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(isoYear, 0, 1)) / dayMs / 7) + 1;
  return { isoYear, week };
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
