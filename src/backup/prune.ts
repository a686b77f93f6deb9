import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import type { RetentionConfig } from '../config/schema/backup.js';
import { type BackupStatus, isEmptyPolicy, planRetention } from '../core/retention.js';
import { errorMessage } from '../core/errors.js';
import { holdUnconfirmed } from '../core/offsite-hold.js';
import type { EventBus } from '../events/event-bus.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import { fsyncDirectory } from '../util/durable-fs.js';

export interface PruneRequest {
  backups: BackupsRepo;
  retention: RetentionConfig;
  /** IANA zone of the retention periods (backup.timezone). */
  timezone: string;
  /** Plan and report only; delete nothing. */
  dryRun: boolean;
  signal: AbortSignal;
  events?: EventBus;
  /**
   * Off-site copies are configured: an archive whose copy is not confirmed is never deleted
   * (core/offsite-hold.ts), whatever the plan says; its decision says why it was kept.
   */
  offsiteConfigured?: boolean;
}

/** One cataloged backup and what prune did with it. */
export interface PruneDecision {
  file: string;
  startedAt: string;
  /** The catalog's status, or `missing` when the file is gone or its size no longer matches. */
  status: BackupStatus | 'missing';
  keep: boolean;
  /** The rules that kept it ('within 7d', 'daily 2026-11-27', 'newest verified', ...). */
  reasons: string[];
  /** True once the archive and its catalog row are gone (never in a dry run). */
  deleted: boolean;
  /** Why a planned deletion did not happen. */
  error?: string;
}

export interface PruneOutcome {
  dryRun: boolean;
  /** True when no keep_* rule is on: nothing is ever deleted. */
  emptyPolicy: boolean;
  /** Newest first. */
  decisions: PruneDecision[];
  retained: number;
  deleted: string[];
}

/**
 * Applies backup.retention to the catalog: plans with planRetention (periods counted back from the
 * newest verified backup) and, unless `dryRun`, deletes each archive the plan drops, then its row.
 * Only cataloged archives are ever touched: `.partial` files and archives the catalog lacks are
 * not in the plan. A verified row whose file is gone or changed size counts as `missing`: it keeps
 * nothing alive and is not deleted, so a vanished archive can never make good ones fall out. The
 * row goes first, then the file: a crash between leaves an uncataloged archive (listed, importable),
 * never a row without a file. A failed delete is reported on its decision and the rest go on.
 * The caller holds the backup lock. Emits backups:pruned.
 */
export async function pruneBackups(request: PruneRequest): Promise<PruneOutcome> {
  const rows = request.backups.list();
  const candidates = await Promise.all(
    rows.map(async (row) => ({ row, time: Date.parse(row.startedAt), status: await statusOnDisk(row) })),
  );
  const policy = {
    ...request.retention,
    timezone: request.timezone,
  };
  const planned = planRetention(
    candidates.map((candidate) => ({
      ...candidate,
      // A missing archive is never a keeper; planRetention leaves non-verified rows alone.
      status: candidate.status === 'missing' ? ('failed' as const) : candidate.status,
    })),
    policy,
  );
  const plan = holdUnconfirmed(planned, request.offsiteConfigured ?? false, (backup) => ({
    ...(backup.row.offsite?.confirmedAt ? { confirmedAt: Date.parse(backup.row.offsite.confirmedAt) } : {}),
  }));
  const decisions: PruneDecision[] = plan.map(({ backup, keep, reasons }) => {
    const original = candidates.find((candidate) => candidate.row === backup.row);
    const status = original?.status ?? backup.status;
    return {
      file: backup.row.file,
      startedAt: backup.row.startedAt,
      status,
      keep,
      reasons: status === 'missing' ? ['missing: the archive is gone or changed size; not counted'] : reasons,
      deleted: false,
    };
  });

  const deleted: string[] = [];
  if (!request.dryRun) {
    for (const decision of decisions) {
      if (decision.keep) continue;
      request.signal.throwIfAborted();
      try {
        request.backups.remove(decision.file);
        await rm(decision.file, { force: true });
        await fsyncDirectory(path.dirname(decision.file));
        decision.deleted = true;
        deleted.push(decision.file);
      } catch (error) {
        decision.error = errorMessage(error);
      }
    }
  }
  const retained = decisions.filter((decision) => !decision.deleted).length;
  request.events?.emit('backups:pruned', { retained, deleted, dryRun: request.dryRun });
  return { dryRun: request.dryRun, emptyPolicy: isEmptyPolicy(policy), decisions, retained, deleted };
}

/** A verified row counts only while its file is there with the recorded size. */
async function statusOnDisk(row: BackupRecord): Promise<BackupStatus | 'missing'> {
  if (row.status !== 'verified') return row.status;
  try {
    const info = await lstat(row.file);
    return info.isFile() && info.size === row.size ? 'verified' : 'missing';
  } catch {
    return 'missing';
  }
}
