import { progressReporter } from '../backup/progress.js';
import type { RestoreProgress } from '../restore/restore-db.js';
import type { Logger } from '../telemetry/logger.js';

type Progress =
  | RestoreProgress
  | { kind: 'verify' | 'backup'; done: number; total: number }
  | { kind: 'step'; step: string; detail?: string };

const STEP_TEXT: Record<string, string> = {
  verified: 'archive verified',
  'cleaned-stale-temps': 'removed temp files of an interrupted restore',
  'temp-written': 'entry written beside the target; its size, CRC-32 and SHA-256 match the manifest',
  'temp-checked': 'read back from disk, CRC-32 unchanged; integrity_check passed',
  'safety-copied': 'safety copy taken',
  'sidecars-removed': 'stale -wal/-shm removed',
  renamed: 'renamed into place',
  // restore --all / --tenants
  staged: 'staged beside its target and verified',
  journaled: 'every target staged and every safety copy taken; swap journal written',
  swapped: 'swapped into place',
  'recovered-forward': 'finished a restore that was stopped mid-swap',
  'recovered-back': 'undid a restore that was stopped mid-swap',
};

/**
 * A restore's progress: bytes go to the shared progress reporter (a bar on a terminal, a log line
 * now and then otherwise); each step is one line on a terminal, one log line otherwise.
 */
export function restoreProgress(logger: Logger, stream: NodeJS.WriteStream = process.stderr) {
  const bytes = progressReporter({ logger, stream });
  return {
    report(progress: Progress): void {
      if (progress.kind === 'step') {
        bytes.finish();
        if (stream.isTTY) {
          stream.write(
            `${STEP_TEXT[progress.step] ?? progress.step}${progress.detail ? `: ${progress.detail}` : ''}\n`,
          );
        } else {
          logger.info(
            { step: progress.step, detail: progress.detail },
            STEP_TEXT[progress.step] ?? 'restore step',
          );
        }
        return;
      }
      bytes.update(progress.kind === 'bytes' ? 'restore' : progress.kind, progress.done, progress.total);
    },
    done(): void {
      bytes.finish();
    },
  };
}
