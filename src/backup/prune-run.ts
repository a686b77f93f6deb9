import type { BackupConfig } from '../config/schema/backup.js';
import type { EventBus } from '../events/event-bus.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import type { Logger } from '../telemetry/logger.js';
import { NOT_OFFSITE_REASON } from '../core/offsite-hold.js';
import { acquireBackupLock } from './lock.js';
import { type PruneOutcome, pruneBackups } from './prune.js';

export interface PruneRunDeps {
  config: BackupConfig;
  catalog: BackupsRepo;
  logger: Logger;
  /** Announces backups:pruned, which the metrics follow. */
  events?: EventBus;
}

/**
 * Prunes the catalog of `config.dir` with `config.retention`, holding the backup lock for a real run
 * (no backup writes and no restore reads an archive while archives are deleted; waits up to
 * `lock_wait`). A dry run reads only and takes no lock. Logs each deletion and a summary.
 */
export async function runPrune(
  deps: PruneRunDeps,
  options: { dryRun: boolean; signal: AbortSignal },
): Promise<PruneOutcome> {
  const { config, logger } = deps;
  const lock = options.dryRun
    ? undefined
    : await acquireBackupLock(config.dir, {
        waitMs: config.lock_wait,
        logger,
        signal: options.signal,
        onWait: (holderPid) =>
          logger.info({ holder_pid: holderPid }, 'waiting for a running backup to finish'),
      });
  try {
    const outcome = await pruneBackups({
      backups: deps.catalog,
      retention: config.retention,
      timezone: config.timezone,
      dryRun: options.dryRun,
      signal: options.signal,
      events: deps.events,
      offsiteConfigured: config.offsite !== undefined,
    });
    for (const decision of outcome.decisions) {
      if (decision.deleted) logger.info({ file: decision.file }, 'backup pruned');
      if (decision.keep && decision.reasons.includes(NOT_OFFSITE_REASON))
        logger.info({ file: decision.file }, 'backup kept past retention: not confirmed off-site yet');
      if (decision.error)
        logger.error({ file: decision.file, err: decision.error }, 'backup could not be pruned');
    }
    logger.info(
      { retained: outcome.retained, deleted: outcome.deleted.length, dry_run: options.dryRun },
      outcome.emptyPolicy ? 'retention policy is empty: nothing pruned' : 'retention applied',
    );
    return outcome;
  } finally {
    lock?.release();
  }
}
