import path from 'node:path';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import {
  journalPaths,
  RESTORE_JOURNAL_FILE,
  readJournal,
  recoverJournal,
} from '../restore/restore-journal.js';
import type { Logger } from '../telemetry/logger.js';

/** Where a restore of several targets keeps its swap journal: runwarden's own state_dir. */
export function restoreJournalPath(config: Pick<Config, 'state_dir'>): string {
  return path.join(config.state_dir, RESTORE_JOURNAL_FILE);
}

/**
 * At the daemon's start: finishes or undoes a restore of several targets that was killed mid-swap
 * (recoverJournal). Never throws; when the journal stays (its restore is still running, or
 * recovery failed) returns the paths it names, which the start-up clean-up must keep.
 */
export async function finishInterruptedRestore(config: Config, logger: Logger): Promise<string[]> {
  const journal = restoreJournalPath(config);
  try {
    const recovered = await recoverJournal(journal);
    if (recovered) {
      logger.warn(
        { journal, archive: recovered.archive, direction: recovered.direction, targets: recovered.targets },
        recovered.direction === 'forward'
          ? 'finished a restore that was stopped mid-swap'
          : 'undid a restore that was stopped mid-swap: every target is as it was before it',
      );
    }
    return [];
  } catch (error) {
    logger.error({ journal, err: errorMessage(error) }, 'could not finish or undo an interrupted restore');
    const left = await readJournal(journal).catch(() => undefined);
    return left ? journalPaths(left) : [];
  }
}
