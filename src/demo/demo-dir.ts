import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DAEMON_LOCK_FILE } from '../app/daemon.js';
import { UsageError } from '../core/errors.js';
import { acquirePidLock, LockHeldError } from '../lock/pid-lock.js';

/** The file that marks a folder as the demo's own, so a rerun may wipe it and nothing else. */
export const DEMO_MARKER = '.runwarden-demo';

/** Where the demo keeps its state, relative to the demo folder (the generated config says the same). */
export const DEMO_STATE_DIR = 'state';

/**
 * Wipes and recreates the demo folder `dir`. It is wiped only when it holds the demo's marker file
 * (a folder the demo created) or is empty; any other folder is refused with a UsageError and left
 * untouched, so `--dir ~` cannot delete a home folder. A folder whose demo is still running (its
 * daemon lock is held) is refused too.
 */
export function prepareDemoDir(dir: string): void {
  const absolute = path.resolve(dir);
  if (existsSync(absolute)) {
    if (!statSync(absolute).isDirectory())
      throw new UsageError(`--dir ${dir}: ${absolute} exists and is not a folder; pick another --dir`);
    const entries = readdirSync(absolute);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER))
      throw new UsageError(
        `--dir ${dir}: ${absolute} is not empty and was not made by the demo (no ${DEMO_MARKER} file); ` +
          'the demo wipes its folder at each run, so pick a new or empty folder',
      );
    refuseIfRunning(absolute, dir);
    rmSync(absolute, { recursive: true, force: true });
  }
  mkdirSync(absolute, { recursive: true });
  writeFileSync(
    path.join(absolute, DEMO_MARKER),
    'Made by `runwarden demo`; the demo wipes and recreates this folder at each run.\n',
  );
}

function refuseIfRunning(absolute: string, dir: string): void {
  const stateDir = path.join(absolute, DEMO_STATE_DIR);
  if (!existsSync(stateDir)) return;
  try {
    acquirePidLock(path.join(stateDir, DAEMON_LOCK_FILE), 'the demo daemon').release();
  } catch (error) {
    if (error instanceof LockHeldError)
      throw new UsageError(
        `--dir ${dir}: a demo is still running there (pid ${error.holderPid}); stop it first or pick another --dir`,
      );
    throw error;
  }
}
