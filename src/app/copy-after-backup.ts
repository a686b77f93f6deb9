import { errorMessage, RunwardenError } from '../core/errors.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import type { OffsiteService } from './offsite-service.js';

/** What became of a new archive's off-site copy. */
export type CopyReport =
  | { state: 'confirmed'; object: string; generation: number }
  | { state: 'failed'; code: string; error: string };

/**
 * `runwarden backup` copies its archive right away: one pass of the uploader over the backlog
 * (older archives still waiting go too, oldest first). A failure is reported, never thrown: the
 * backup itself is good, and the archive stays in the backlog for the daemon's next pass.
 */
export async function copyAfterBackup(
  offsite: OffsiteService,
  catalog: Pick<BackupsRepo, 'get'>,
  file: string,
  signal: AbortSignal,
): Promise<CopyReport> {
  let failed: { code: string; error: string } | undefined;
  try {
    const outcome = await offsite.uploader.drain(signal);
    failed = outcome.failed.find((each) => each.file === file);
  } catch (error) {
    // The pass itself stopped (interrupted, or the catalog failed): the archive waits in the backlog.
    failed = {
      code: error instanceof RunwardenError ? error.code : 'RW_OFFSITE_FAILED',
      error: errorMessage(error),
    };
  }
  const copy = catalog.get(file)?.offsite;
  if (copy?.confirmedAt && copy.objectName && copy.generation !== null) {
    return { state: 'confirmed', object: copy.objectName, generation: copy.generation };
  }
  return {
    state: 'failed',
    code: failed?.code ?? 'RW_OFFSITE_FAILED',
    error: failed?.error ?? 'the archive was not copied in this pass',
  };
}
