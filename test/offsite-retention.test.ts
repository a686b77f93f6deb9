import { describe, expect, it } from 'vitest';
import { archiveTime } from '../src/core/archive-time.js';
import { holdUnconfirmed, localDeletionHold, NOT_OFFSITE_REASON } from '../src/core/offsite-hold.js';
import {
  FUTURE_REASON,
  planRemoteRetention,
  type RemoteCopy,
  remoteDeletions,
  UNCONFIRMED_REASON,
} from '../src/core/offsite-retention.js';
import { planRetention, type RetentionPolicy } from '../src/core/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-30T12:00:00Z');

/** One copy a day at 03:00 UTC from `from` to `to`, named as the archive, generation from its index. */
function daily(from: string, to: string, confirmed = true): RemoteCopy[] {
  const copies: RemoteCopy[] = [];
  for (let t = Date.parse(`${from}T03:00:00Z`); t <= Date.parse(`${to}T03:00:00Z`); t += DAY) {
    copies.push({ name: nameAt(t), generation: 1_000 + copies.length, time: t, confirmed });
  }
  return copies;
}

function nameAt(time: number): string {
  const iso = new Date(time).toISOString();
  return `backup_completo_${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}.zip`;
}

function kept(copies: RemoteCopy[], policy: RetentionPolicy, now = NOW): string[] {
  return planRemoteRetention(copies, policy, now)
    .filter((decision) => decision.keep)
    .map((decision) => decision.copy.name);
}

describe('planRemoteRetention', () => {
  it('applies the local rules to confirmed copies: the same keeps as planRetention on verified backups', () => {
    const copies = daily('2026-10-01', '2026-11-30');
    const policy: RetentionPolicy = { keep_within: 7 * DAY, keep_weekly: 4, keep_monthly: 2 };
    const local = planRetention(
      copies.map((copy) => ({ ...copy, status: 'verified' as const })),
      policy,
    );
    expect(kept(copies, policy)).toEqual(local.filter((d) => d.keep).map((d) => d.backup.name));
    const plan = planRemoteRetention(copies, policy, NOW);
    expect(plan[0]?.reasons).toEqual(['within 7d', 'weekly 2026-W49', 'monthly 2026-11', 'newest confirmed']);
  });

  it('deletions carry the generation listed, for ifGenerationMatch', () => {
    const copies = daily('2026-11-20', '2026-11-30');
    const deletions = remoteDeletions(planRemoteRetention(copies, { keep_last: 3 }, NOW));
    expect(deletions).toHaveLength(8);
    expect(deletions[0]).toEqual({ name: 'backup_completo_20261127_030000.zip', generation: 1_007 });
  });

  it('floor: the newest confirmed copy is kept even when every rule would drop it', () => {
    const copies = daily('2026-01-01', '2026-01-10');
    // keep_within counts back from the newest confirmed copy, not from now: months of outage
    // (nothing new confirmed) never age the last good copies out.
    expect(kept(copies, { keep_within: DAY })).toEqual(['backup_completo_20260110_030000.zip']);
    expect(kept(copies, { keep_last: 0, keep_hourly: 0 })).toHaveLength(10); // empty policy keeps all
  });

  it('floor: unconfirmed copies never fill a rule and are never deleted', () => {
    const confirmed = daily('2026-11-20', '2026-11-27');
    const unconfirmed = daily('2026-11-28', '2026-11-30', false);
    const old = { ...daily('2026-01-01', '2026-01-01', false)[0]!, name: 'backup_completo_old.zip' };
    const plan = planRemoteRetention([...confirmed, ...unconfirmed, old], { keep_last: 2 }, NOW);
    const byName = Object.fromEntries(plan.map((d) => [d.copy.name, d]));
    // The two newest CONFIRMED copies fill keep_last 2; the three newer unconfirmed ones do not.
    expect(byName['backup_completo_20261127_030000.zip']?.reasons).toEqual(['last 2', 'newest confirmed']);
    expect(byName['backup_completo_20261126_030000.zip']?.reasons).toEqual(['last 2']);
    expect(byName['backup_completo_20261125_030000.zip']?.keep).toBe(false);
    for (const name of ['backup_completo_20261128_030000.zip', 'backup_completo_20261130_030000.zip']) {
      expect(byName[name]).toMatchObject({ keep: true, reasons: [UNCONFIRMED_REASON] });
    }
    expect(byName['backup_completo_old.zip']).toMatchObject({ keep: true, reasons: [UNCONFIRMED_REASON] });
  });

  it('floor: with no confirmed copy at all, nothing is deleted', () => {
    expect(kept(daily('2026-11-01', '2026-11-30', false), { keep_last: 1 })).toHaveLength(30);
  });

  it('a copy dated in the future (a wrong clock) neither anchors the rules nor is deleted', () => {
    const copies = daily('2026-11-01', '2026-11-30');
    const future = {
      name: 'backup_completo_20300101_000000.zip',
      generation: 9,
      time: Date.parse('2030-01-01'),
      confirmed: true,
    };
    const plan = planRemoteRetention([...copies, future], { keep_within: 3 * DAY }, NOW);
    expect(plan[0]).toMatchObject({ copy: future, keep: true, reasons: [FUTURE_REASON] });
    expect(plan.filter((d) => d.keep).map((d) => d.copy.name)).toEqual([
      future.name,
      'backup_completo_20261130_030000.zip',
      'backup_completo_20261129_030000.zip',
      'backup_completo_20261128_030000.zip',
    ]);
    // Within the tolerance (1 h by default) it is an ordinary copy.
    const soon = { ...future, time: NOW + 30 * 60_000 };
    expect(planRemoteRetention([...copies, soon], { keep_within: 3 * DAY }, NOW)[0]?.reasons).toContain(
      'newest confirmed',
    );
  });

  it('a bad policy is refused before any decision, naming the option', () => {
    expect(() => planRemoteRetention(daily('2026-11-01', '2026-11-02'), { keep_daily: 1.5 }, NOW)).toThrow(
      expect.objectContaining({
        code: 'RW_RETENTION_POLICY',
        message: expect.stringContaining('keep_daily'),
      }),
    );
  });
});

describe('local retention with off-site copies configured', () => {
  const archives = daily('2026-11-01', '2026-11-10').map((copy, index) => ({
    ...copy,
    status: 'verified' as const,
    // Every other archive is confirmed off-site.
    offsite: index % 2 === 0 ? { confirmedAt: copy.time + 60_000 } : undefined,
  }));

  it('never deletes an archive whose copy is not confirmed, and says why', () => {
    const plan = planRetention(archives, { keep_last: 2 });
    const held = holdUnconfirmed(plan, true, (archive) => archive.offsite);
    const deleted = held.filter((d) => !d.keep).map((d) => d.backup.name);
    expect(deleted).toEqual(
      archives
        .slice(0, 8)
        .filter((archive) => archive.offsite)
        .map((archive) => archive.name)
        .reverse(),
    );
    const unconfirmedOld = held.find((d) => d.backup.name === 'backup_completo_20261102_030000.zip');
    expect(unconfirmedOld).toMatchObject({ keep: true, reasons: [NOT_OFFSITE_REASON] });
    // Decisions to keep are untouched.
    expect(held[0]?.reasons).toEqual(['last 2', 'newest verified']);
  });

  it('holds nothing when off-site copies are not configured', () => {
    const plan = planRetention(archives, { keep_last: 2 });
    expect(holdUnconfirmed(plan, false, (archive) => archive.offsite).map((d) => d.keep)).toEqual(
      plan.map((d) => d.keep),
    );
    expect(localDeletionHold(false, undefined)).toBeUndefined();
    expect(localDeletionHold(true, undefined)).toBe(NOT_OFFSITE_REASON);
    expect(localDeletionHold(true, {})).toBe(NOT_OFFSITE_REASON);
    expect(localDeletionHold(true, { confirmedAt: 1 })).toBeUndefined();
  });
});

describe('archiveTime', () => {
  it.each([
    ['backup_completo_20261128_030000.zip', 'UTC', '2026-11-28T03:00:00.000Z'],
    ['runwarden/backup_completo_20261128_030000.zip', 'America/Sao_Paulo', '2026-11-28T06:00:00.000Z'],
    ['backup_completo_20260701_030000.zip', 'Europe/Berlin', '2026-07-01T01:00:00.000Z'],
    // 01:30 happens twice in New York on 2026-11-01: the earlier one (EDT).
    ['backup_completo_20261101_013000.zip', 'America/New_York', '2026-11-01T05:30:00.000Z'],
    ['backup_completo_20261025_023000.zip', 'Europe/Berlin', '2026-10-25T00:30:00.000Z'],
  ])('%s in %s was taken at %s', (name, zone, iso) => {
    expect(new Date(archiveTime(name, 'backup_completo', zone)!).toISOString()).toBe(iso);
  });

  it.each([
    ['other_20261128_030000.zip', 'another prefix'],
    ['backup_completo_20261128_030000.zip.partial', 'a partial file'],
    ['backup_completo_20260230_030000.zip', 'no such day'],
    ['backup_completo_20261128_250000.zip', 'no such hour'],
    ['backup_completo_20260308_023000.zip', 'a time New York skips'],
  ])('%s is not an archive time (%s)', (name) => {
    expect(archiveTime(name, 'backup_completo', 'America/New_York')).toBeUndefined();
  });
});
