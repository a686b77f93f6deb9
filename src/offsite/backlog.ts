import { formatDuration } from '../core/duration.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';

/** Archives not yet confirmed off-site: what `backups list` and `status` show. */
export interface OffsiteBacklog {
  count: number;
  bytes: number;
  /** When the oldest waiting archive's backup started (ISO), or null when none waits. */
  oldestStartedAt: string | null;
  /** How long the oldest has waited, in ms (from its backup's start), or null. */
  oldestAgeMs: number | null;
}

export function offsiteBacklog(catalog: Pick<BackupsRepo, 'offsitePending'>, now: number): OffsiteBacklog {
  const pending = catalog.offsitePending();
  const oldest = pending[0];
  return {
    count: pending.length,
    bytes: pending.reduce((sum, record) => sum + record.size, 0),
    oldestStartedAt: oldest?.startedAt ?? null,
    oldestAgeMs: oldest ? Math.max(0, now - Date.parse(oldest.startedAt)) : null,
  };
}

/** One archive's copy, as a list shows it. */
export interface OffsiteView {
  /**
   * `confirmed`: its copy read back matching; `pending`: waiting for (another) attempt; `off`: not
   * copied and not waiting (off-site copies are off, or the archive is not a verified one).
   */
  state: 'confirmed' | 'pending' | 'off';
  object: string | null;
  generation: number | null;
  confirmedAt: string | null;
  attempts: number;
  error: string | null;
  nextAttemptAt: string | null;
}

/** `configured`: whether off-site copies are on (only then does a verified archive wait for one). */
export function offsiteView(record: BackupRecord, configured: boolean): OffsiteView {
  const copy = record.offsite;
  const state = copy?.confirmedAt
    ? 'confirmed'
    : configured && record.verifiedAt !== null
      ? 'pending'
      : 'off';
  return {
    state,
    object: copy?.objectName ?? null,
    generation: copy?.generation ?? null,
    confirmedAt: copy?.confirmedAt ?? null,
    attempts: copy?.attempts ?? 0,
    error: copy?.error ?? null,
    nextAttemptAt: copy?.nextAttemptAt ?? null,
  };
}

/** An age for people: whole seconds (a backlog's age is hours or days, not milliseconds). */
export function ageText(ms: number): string {
  return formatDuration(Math.max(1, Math.round(ms / 1000)) * 1000);
}

/** The backlog in one line, for `backups list` and `status`. */
export function describeBacklog(backlog: OffsiteBacklog, formatBytes: (bytes: number) => string): string {
  if (backlog.count === 0) return 'none (every verified archive is confirmed off-site)';
  const age = backlog.oldestAgeMs === null ? '' : `, the oldest waiting ${ageText(backlog.oldestAgeMs)}`;
  const archives = backlog.count === 1 ? 'archive' : 'archives';
  return `${backlog.count} ${archives} (${formatBytes(backlog.bytes)}) not yet confirmed${age} (since ${backlog.oldestStartedAt})`;
}
