import { formatDuration } from './duration.js';

/**
 * The current recovery point: the newest archive whose last verification passed. A restore now
 * brings the data back to its moment and loses everything written since: its age is how much.
 */
export interface RecoveryPoint {
  file: string;
  /** When the archive's snapshot began (ISO-8601 UTC). */
  at: string;
  /** Whole seconds from `at` to now (0 when the clock says the archive is in the future). */
  ageSeconds: number;
}

/** Of `backups` (any order), the newest verified one as a RecoveryPoint; null when none is verified. */
export function recoveryPoint(
  backups: ReadonlyArray<{ file: string; startedAt: string; status: string }>,
  now: Date,
): RecoveryPoint | null {
  let newest: { file: string; startedAt: string } | undefined;
  for (const backup of backups) {
    if (backup.status !== 'verified') continue;
    if (!newest || Date.parse(backup.startedAt) > Date.parse(newest.startedAt)) newest = backup;
  }
  if (!newest) return null;
  const ageMs = Math.max(0, now.getTime() - Date.parse(newest.startedAt));
  return { file: newest.file, at: newest.startedAt, ageSeconds: Math.floor(ageMs / 1000) };
}

/** "3h12m" style age for people (seconds dropped past an hour). */
export function formatAge(seconds: number): string {
  const ms = (seconds >= 3600 ? seconds - (seconds % 60) : seconds) * 1000;
  return formatDuration(ms);
}
