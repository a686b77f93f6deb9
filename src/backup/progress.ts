import type { Logger } from '../telemetry/logger.js';
import { formatBytes } from '../util/format-bytes.js';

/** Reports the progress of a long operation (backup, verification, restore) in bytes. */
export interface ProgressReporter {
  update(phase: string, done: number, total: number): void;
  /** Ends the display (a bar gets its final newline). */
  finish(): void;
}

export interface ProgressOptions {
  /** Where a bar is drawn when it is a terminal; default stderr. */
  stream?: NodeJS.WriteStream;
  /** Receives plain progress lines when `stream` is not a terminal. */
  logger: Logger;
}

const BAR_WIDTH = 30;
const BAR_INTERVAL_MS = 100;
const LOG_INTERVAL_MS = 5_000;

/**
 * A progress bar redrawn in place on a terminal, plain log lines otherwise (a new phase, then at
 * most one line per 5 s), so journald and CI logs are not flooded with carriage returns.
 */
export function progressReporter(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  let phase = '';
  let last = 0;
  let drawn = false;
  if (stream.isTTY) {
    return {
      update(next, done, total) {
        const now = Date.now();
        if (next === phase && now - last < BAR_INTERVAL_MS && done < total) return;
        if (next !== phase && drawn) stream.write('\n');
        phase = next;
        last = now;
        drawn = true;
        const ratio = total > 0 ? Math.min(1, done / total) : 1;
        const filled = Math.round(ratio * BAR_WIDTH);
        stream.write(
          `\r${phase.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}\x1b[K`,
        );
      },
      finish() {
        if (drawn) stream.write('\n');
        drawn = false;
      },
    };
  }
  return {
    update(next, done, total) {
      const now = Date.now();
      if (next === phase && now - last < LOG_INTERVAL_MS) return;
      phase = next;
      last = now;
      options.logger.info(
        {
          phase,
          done_bytes: done,
          total_bytes: total,
          percent: total > 0 ? Math.floor((done / total) * 100) : 100,
        },
        'progress',
      );
    },
    finish() {},
  };
}
