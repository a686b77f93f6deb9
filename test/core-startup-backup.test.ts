import { describe, expect, it } from 'vitest';
import { decideStartupBackup, newestArchive } from '../src/core/startup-backup.js';

describe('decideStartupBackup', () => {
  const newest = (revision: string | undefined) => ({
    name: 'backup_completo_20261203_101500.zip',
    revision,
  });

  it('auto: backs up when the newest archive names another revision, none, or there is none', () => {
    expect(decideStartupBackup({ policy: 'auto', revision: 'shop-2', newest: newest('shop-1') })).toEqual({
      backup: true,
      why: 'the newest archive backup_completo_20261203_101500.zip was taken by revision shop-1; revision shop-2 starts',
    });
    expect(
      decideStartupBackup({ policy: 'auto', revision: 'shop-2', newest: newest(undefined) }).why,
    ).toContain('names no revision');
    expect(decideStartupBackup({ policy: 'auto', revision: 'shop-2', newest: undefined })).toEqual({
      backup: true,
      why: 'no archive yet; revision shop-2 starts',
      noArchiveYet: true,
    });
  });

  it('auto: starts at once when the newest archive is this revision’s, or outside Cloud Run', () => {
    expect(decideStartupBackup({ policy: 'auto', revision: 'shop-2', newest: newest('shop-2') }).backup).toBe(
      false,
    );
    expect(decideStartupBackup({ policy: 'auto', revision: undefined, newest: undefined })).toEqual({
      backup: false,
      why: 'not in a Cloud Run revision (K_REVISION unset)',
    });
  });

  it('always and never ignore the catalog', () => {
    expect(
      decideStartupBackup({ policy: 'always', revision: 'shop-2', newest: newest('shop-2') }).backup,
    ).toBe(true);
    expect(decideStartupBackup({ policy: 'never', revision: 'shop-2', newest: undefined }).backup).toBe(
      false,
    );
  });
});

describe('newestArchive', () => {
  it('takes the latest taken, not the latest listed', () => {
    expect(newestArchive([{ takenAt: 3 }, { takenAt: 9 }, { takenAt: 5 }])).toEqual({ takenAt: 9 });
    expect(newestArchive([])).toBeUndefined();
  });
});
