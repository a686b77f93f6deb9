import { describe, expect, it } from 'vitest';
import { formatAge, recoveryPoint } from '../src/core/recovery-point.js';

const now = new Date('2026-11-28T12:00:00Z');

describe('recovery point', () => {
  it('is the newest verified archive, with its age', () => {
    const backups = [
      { file: 'c.zip', startedAt: '2026-11-28T11:30:00.000Z', status: 'unverified' },
      { file: 'b.zip', startedAt: '2026-11-28T03:00:00.000Z', status: 'verified' },
      { file: 'a.zip', startedAt: '2026-11-27T03:00:00.000Z', status: 'verified' },
      { file: 'd.zip', startedAt: '2026-11-28T11:00:00.000Z', status: 'failed' },
    ];
    expect(recoveryPoint(backups, now)).toEqual({
      file: 'b.zip',
      at: '2026-11-28T03:00:00.000Z',
      ageSeconds: 9 * 3600,
    });
  });

  it('is null without a verified archive', () => {
    expect(
      recoveryPoint([{ file: 'x.zip', startedAt: now.toISOString(), status: 'failed' }], now),
    ).toBeNull();
    expect(recoveryPoint([], now)).toBeNull();
  });

  it('reads as hours and minutes past an hour', () => {
    expect(formatAge(9 * 3600 + 125)).toBe('9h2m');
    expect(formatAge(42)).toBe('42s');
  });
});
