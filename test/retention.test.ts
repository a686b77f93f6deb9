import { describe, expect, it } from 'vitest';
import { calendarBucketer, isoWeek } from '../src/core/calendar.js';
import {
  type BackupStatus,
  isEmptyPolicy,
  planRetention,
  type RetentionPolicy,
} from '../src/core/retention.js';
import { RunwardenError } from '../src/core/errors.js';

const DAY = 86_400_000;

interface Row {
  name: string;
  time: number;
  status: BackupStatus;
}

/** A backup named by its ISO instant, verified unless told otherwise. */
function backup(iso: string, status: BackupStatus = 'verified'): Row {
  return { name: iso, time: Date.parse(iso), status };
}

function daily(fromIso: string, toIso: string, hour = '12:00:00', status: BackupStatus = 'verified'): Row[] {
  const rows: Row[] = [];
  for (let t = Date.parse(`${fromIso}T${hour}Z`); t <= Date.parse(`${toIso}T${hour}Z`); t += DAY) {
    rows.push({ name: new Date(t).toISOString(), time: t, status });
  }
  return rows;
}

function kept(rows: Row[], policy: RetentionPolicy): string[] {
  return planRetention(rows, policy)
    .filter((decision) => decision.keep)
    .map((decision) => decision.backup.name.slice(0, 16));
}

function reasonsOf(rows: Row[], policy: RetentionPolicy): Record<string, string[]> {
  return Object.fromEntries(
    planRetention(rows, policy).map((decision) => [decision.backup.name.slice(0, 16), decision.reasons]),
  );
}

describe('calendar buckets', () => {
  it.each([
    // [date, ISO year, ISO week]
    ['2026-11-27', 2026, 48],
    ['2026-12-31', 2026, 53], // 2026 starts on a Thursday: a 53-week year
    ['2027-01-01', 2026, 53],
    ['2027-01-03', 2026, 53], // Sunday closes the week
    ['2027-01-04', 2027, 1], // Monday opens the next
    ['2021-01-03', 2020, 53],
    ['2024-12-30', 2025, 1], // late December can belong to next year's week 1
    ['2019-09-01', 2019, 35],
  ] as const)('%s is ISO week %i-W%i', (date, year, week) => {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    expect(isoWeek(y, m, d)).toEqual({ isoYear: year, week });
  });

  it.each([
    ['hour', 'UTC', '2026-11-27T23:30:00Z', '2026-11-27T23'],
    ['day', 'UTC', '2026-11-27T23:30:00Z', '2026-11-27'],
    ['day', 'America/Sao_Paulo', '2026-11-28T00:30:00Z', '2026-11-27'],
    ['day', 'Asia/Tokyo', '2026-11-27T15:30:00Z', '2026-11-28'],
    ['week', 'UTC', '2027-01-02T10:00:00Z', '2026-W53'],
    ['week', 'UTC', '2026-11-29T23:59:59Z', '2026-W48'], // Sunday 23:59 still in Monday's week
    ['week', 'UTC', '2026-11-30T00:00:00Z', '2026-W49'],
    ['month', 'Europe/Lisbon', '2026-10-31T23:30:00Z', '2026-10'], // Lisbon is UTC+0 in winter
    ['month', 'Europe/Berlin', '2026-10-31T23:30:00Z', '2026-11'],
    ['year', 'America/New_York', '2027-01-01T03:00:00Z', '2026'],
  ] as const)('%s in %s of %s is %s', (period, zone, iso, expected) => {
    expect(calendarBucketer(period, zone)(Date.parse(iso))).toBe(expected);
  });
});

describe('planRetention: restic semantics', () => {
  it('matches the restic manual: 12 Sundays, keep_daily 4 keeps the last four', () => {
    const sundays = [
      '2019-09-01',
      '2019-09-08',
      '2019-09-15',
      '2019-09-22',
      '2019-09-29',
      '2019-10-06',
      '2019-10-13',
      '2019-10-20',
      '2019-10-27',
      '2019-11-03',
      '2019-11-10',
      '2019-11-17',
    ].map((day) => backup(`${day}T11:00:00Z`));
    expect(kept(sundays, { keep_daily: 4 })).toEqual([
      '2019-11-17T11:00',
      '2019-11-10T11:00',
      '2019-11-03T11:00',
      '2019-10-27T11:00',
    ]);
  });

  it('matches the restic manual: daily backups, 7 daily + 5 weekly + 12 monthly + 75 yearly', () => {
    // Newest is Friday 2026-11-27. Its ISO week (Mon 23 - Sun 29) and the previous one (ending Sun 22)
    // are both already among the 7 dailies, so weekly adds three Sundays; monthly adds month-ends;
    // yearly has counts left after three years, so the very oldest backup is kept too (restic 0.17+).
    const rows = daily('2024-01-01', '2026-11-27');
    const plan = planRetention(rows, { keep_daily: 7, keep_weekly: 5, keep_monthly: 12, keep_yearly: 75 });
    const keptDays = plan.filter((d) => d.keep).map((d) => d.backup.name.slice(0, 10));
    expect(keptDays).toEqual([
      '2026-11-27',
      '2026-11-26',
      '2026-11-25',
      '2026-11-24',
      '2026-11-23',
      '2026-11-22',
      '2026-11-21',
      '2026-11-15',
      '2026-11-08',
      '2026-11-01',
      '2026-10-31',
      '2026-09-30',
      '2026-08-31',
      '2026-07-31',
      '2026-06-30',
      '2026-05-31',
      '2026-04-30',
      '2026-03-31',
      '2026-02-28',
      '2026-01-31',
      '2025-12-31',
      '2024-12-31',
      '2024-01-01',
    ]);
    const byDay = Object.fromEntries(plan.map((d) => [d.backup.name.slice(0, 10), d.reasons]));
    expect(byDay['2026-11-27']).toEqual([
      'daily 2026-11-27',
      'weekly 2026-W48',
      'monthly 2026-11',
      'yearly 2026',
      'newest verified',
    ]);
    expect(byDay['2026-11-22']).toEqual(['daily 2026-11-22', 'weekly 2026-W47']);
    expect(byDay['2025-12-31']).toEqual(['monthly 2025-12', 'yearly 2025']);
    expect(byDay['2024-01-01']).toEqual(['oldest yearly']);
    expect(byDay['2026-11-20']).toEqual([]);
    expect(plan.filter((d) => !d.keep)).toHaveLength(rows.length - 23);
  });

  it('keeps the newest backup of each period, not the first', () => {
    const rows = [
      backup('2026-11-27T01:00:00Z'),
      backup('2026-11-27T13:00:00Z'),
      backup('2026-11-27T22:00:00Z'),
      backup('2026-11-26T09:00:00Z'),
      backup('2026-11-26T21:00:00Z'),
      backup('2026-11-25T10:00:00Z'),
    ];
    expect(kept(rows, { keep_daily: 2 })).toEqual(['2026-11-27T22:00', '2026-11-26T21:00']);
  });

  it('counts N periods that have backups, skipping empty ones (months with gaps)', () => {
    const rows = [
      backup('2026-01-15T00:00:00Z'),
      backup('2026-03-15T00:00:00Z'),
      backup('2026-07-15T00:00:00Z'),
    ];
    expect(kept(rows, { keep_monthly: 2 })).toEqual(['2026-07-15T00:00', '2026-03-15T00:00']);
  });

  it('keeps the oldest backup while a period rule has counts left (restic 0.17+)', () => {
    const rows = [
      backup('2026-11-27T20:00:00Z'),
      backup('2026-11-27T08:00:00Z'),
      backup('2026-11-26T20:00:00Z'),
      backup('2026-11-26T08:00:00Z'),
    ];
    expect(reasonsOf(rows, { keep_daily: 7 })).toEqual({
      '2026-11-27T20:00': ['daily 2026-11-27', 'newest verified'],
      '2026-11-27T08:00': [],
      '2026-11-26T20:00': ['daily 2026-11-26'],
      '2026-11-26T08:00': ['oldest daily'],
    });
  });

  it('keep_last keeps the N newest; keep_hourly buckets by hour', () => {
    const rows = [
      backup('2026-11-27T10:50:00Z'),
      backup('2026-11-27T10:10:00Z'),
      backup('2026-11-27T09:59:00Z'),
      backup('2026-11-27T09:00:00Z'),
      backup('2026-11-27T07:30:00Z'),
    ];
    expect(kept(rows, { keep_last: 2 })).toEqual(['2026-11-27T10:50', '2026-11-27T10:10']);
    expect(reasonsOf(rows, { keep_hourly: 2 })).toEqual({
      '2026-11-27T10:50': ['hourly 2026-11-27T10', 'newest verified'],
      '2026-11-27T10:10': [],
      '2026-11-27T09:59': ['hourly 2026-11-27T09'],
      '2026-11-27T09:00': [],
      '2026-11-27T07:30': [],
    });
  });

  it('keep_within counts back from the newest backup, strictly (exactly 7d older falls out)', () => {
    const rows = daily('2026-11-01', '2026-11-27');
    const plan = planRetention(rows, { keep_within: 7 * DAY });
    expect(plan.filter((d) => d.keep).map((d) => d.backup.name.slice(0, 10))).toEqual([
      '2026-11-27',
      '2026-11-26',
      '2026-11-25',
      '2026-11-24',
      '2026-11-23',
      '2026-11-22',
      '2026-11-21',
    ]);
    expect(plan[1]?.reasons).toEqual(['within 7d']);
  });

  it('ORs the rules and names every rule that kept a backup', () => {
    const rows = [
      backup('2026-11-27T12:00:00Z'),
      backup('2026-11-27T06:00:00Z'),
      backup('2026-11-20T12:00:00Z'),
      backup('2026-10-01T12:00:00Z'),
      backup('2025-06-01T12:00:00Z'),
    ];
    expect(reasonsOf(rows, { keep_within: 2 * DAY, keep_last: 1, keep_weekly: 2, keep_yearly: 1 })).toEqual({
      '2026-11-27T12:00': ['within 2d', 'last 1', 'weekly 2026-W48', 'yearly 2026', 'newest verified'],
      '2026-11-27T06:00': ['within 2d'],
      '2026-11-20T12:00': ['weekly 2026-W47'],
      '2026-10-01T12:00': [],
      '2025-06-01T12:00': [],
    });
  });

  it('buckets by the configured time zone', () => {
    const rows = [
      backup('2026-11-28T00:30:00Z'), // 27th 21:30 in Sao Paulo
      backup('2026-11-27T23:30:00Z'), // 27th 20:30 in Sao Paulo
      backup('2026-11-26T12:00:00Z'),
    ];
    expect(kept(rows, { keep_daily: 2 })).toEqual(['2026-11-28T00:30', '2026-11-27T23:30']);
    expect(kept(rows, { keep_daily: 2, timezone: 'America/Sao_Paulo' })).toEqual([
      '2026-11-28T00:30',
      '2026-11-26T12:00',
    ]);
  });

  it('treats -1 (the config) and Infinity as unlimited', () => {
    const rows = [...daily('2026-11-01', '2026-11-05'), backup('2026-11-05T01:00:00Z')];
    expect(kept(rows, { keep_daily: -1 })).toHaveLength(5);
    expect(kept(rows, { keep_last: -1 })).toHaveLength(6);
    expect(kept(rows, { keep_daily: Number.POSITIVE_INFINITY })).toHaveLength(5);
    expect(kept(rows, { keep_last: Number.POSITIVE_INFINITY })).toHaveLength(6);
    expect(reasonsOf(rows, { keep_last: Number.POSITIVE_INFINITY })['2026-11-01T12:00']).toEqual([
      'last unlimited',
    ]);
  });

  it('returns newest first whatever the input order, ties in input order, rows untouched', () => {
    const rows = [
      { ...backup('2026-11-25T00:00:00Z'), extra: 'a' },
      { ...backup('2026-11-27T00:00:00Z'), extra: 'b' },
      { ...backup('2026-11-27T00:00:00Z'), extra: 'c' },
      { ...backup('2026-11-26T00:00:00Z'), extra: 'd' },
    ];
    const plan = planRetention(rows, { keep_last: 1 });
    expect(plan.map((d) => d.backup.extra)).toEqual(['b', 'c', 'd', 'a']);
    expect(plan.map((d) => d.keep)).toEqual([true, false, false, false]);
    expect(plan[0]?.backup).toBe(rows[1]);
  });
});

describe('planRetention: safety', () => {
  it('an empty policy deletes nothing (restic refuses to act on one)', () => {
    const rows = daily('2026-01-01', '2026-03-01');
    for (const policy of [{}, { keep_last: 0, keep_daily: 0, keep_within: 0 }, { timezone: 'UTC' }]) {
      expect(isEmptyPolicy(policy)).toBe(true);
      const plan = planRetention(rows, policy);
      expect(plan.every((d) => d.keep)).toBe(true);
      expect(plan[5]?.reasons).toEqual(['policy is empty']);
    }
  });

  it('a week of failed backups never deletes the older good ones', () => {
    // Good daily backups up to the 20th, then a week where every run failed verification.
    const good = daily('2026-11-01', '2026-11-20', '02:00:00');
    const failed = daily('2026-11-21', '2026-11-27', '02:00:00', 'failed');
    const rows = [...failed, ...good];
    const lastWeekOfGood = [
      '2026-11-20',
      '2026-11-19',
      '2026-11-18',
      '2026-11-17',
      '2026-11-16',
      '2026-11-15',
      '2026-11-14',
    ];
    for (const policy of [{ keep_within: 7 * DAY }, { keep_last: 7 }, { keep_daily: 7 }]) {
      const plan = planRetention(rows, policy);
      const keptGood = plan.filter((d) => d.keep && d.backup.status === 'verified');
      expect(keptGood.map((d) => d.backup.name.slice(0, 10))).toEqual(lastWeekOfGood);
      // The failed ones are neither keepers nor deleted: retention leaves them to a person.
      for (const decision of plan.filter((d) => d.backup.status === 'failed')) {
        expect(decision.keep).toBe(true);
        expect(decision.reasons).toEqual(['failed: retention only deletes verified backups']);
      }
    }
  });

  it('a failed backup later the same day does not take that day from the good one', () => {
    const rows = [
      backup('2026-11-27T23:00:00Z', 'failed'),
      backup('2026-11-27T01:00:00Z'),
      backup('2026-11-26T23:00:00Z', 'unverified'),
      backup('2026-11-26T01:00:00Z'),
      backup('2026-11-25T01:00:00Z'),
    ];
    expect(reasonsOf(rows, { keep_daily: 2 })).toEqual({
      '2026-11-27T23:00': ['failed: retention only deletes verified backups'],
      '2026-11-27T01:00': ['daily 2026-11-27', 'newest verified'],
      '2026-11-26T23:00': ['unverified: retention only deletes verified backups'],
      '2026-11-26T01:00': ['daily 2026-11-26'],
      '2026-11-25T01:00': [],
    });
  });

  it('unverified, failed and partial files never fill keep_last slots', () => {
    const rows = [
      backup('2026-11-27T12:00:00Z', 'partial'),
      backup('2026-11-27T11:00:00Z', 'unverified'),
      backup('2026-11-27T10:00:00Z', 'failed'),
      backup('2026-11-27T09:00:00Z'),
      backup('2026-11-27T08:00:00Z'),
      backup('2026-11-27T07:00:00Z'),
    ];
    const plan = planRetention(rows, { keep_last: 2 });
    expect(plan.map((d) => [d.backup.name.slice(11, 16), d.keep])).toEqual([
      ['12:00', true],
      ['11:00', true],
      ['10:00', true],
      ['09:00', true],
      ['08:00', true],
      ['07:00', false],
    ]);
    expect(plan[3]?.reasons).toEqual(['last 2', 'newest verified']);
  });

  it('never deletes anything when no backup is verified', () => {
    const rows = [backup('2026-11-27T12:00:00Z', 'failed'), backup('2026-11-26T12:00:00Z', 'unverified')];
    expect(planRetention(rows, { keep_last: 1 }).every((d) => d.keep)).toBe(true);
    expect(planRetention([], { keep_last: 1 })).toEqual([]);
  });

  it('always keeps the newest verified backup and says so', () => {
    const rows = [backup('2026-11-27T12:00:00Z'), backup('2020-01-01T00:00:00Z')];
    for (const policy of [{ keep_within: 1 }, { keep_yearly: 1 }, { keep_last: 1 }]) {
      const [newest, old] = planRetention(rows, policy);
      expect(newest?.keep).toBe(true);
      expect(newest?.reasons.at(-1)).toBe('newest verified');
      expect(old?.keep).toBe(false);
    }
  });

  it.each([
    [{ keep_last: -2 }, 'retention keep_last: expected a whole number >= 0, or -1 for unlimited, got -2'],
    [{ keep_daily: 1.5 }, 'retention keep_daily: expected a whole number >= 0, or -1 for unlimited, got 1.5'],
    [
      { keep_weekly: Number.NaN },
      'retention keep_weekly: expected a whole number >= 0, or -1 for unlimited, got NaN',
    ],
    [{ keep_within: -5 }, 'retention keep_within: expected a duration >= 0 in ms, got -5'],
    [{ keep_daily: 1, timezone: 'Mars/Olympus' }, 'retention timezone: unknown time zone "Mars/Olympus"'],
  ] as const)('refuses a bad policy %j with a message naming the option', (policy, message) => {
    const rows = daily('2026-11-01', '2026-11-03');
    let thrown: unknown;
    try {
      planRetention(rows, policy);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RunwardenError);
    expect((thrown as RunwardenError).code).toBe('RW_RETENTION_POLICY');
    expect((thrown as Error).message).toBe(message);
  });
});
