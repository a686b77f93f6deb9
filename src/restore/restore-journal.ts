import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import type { RestoreKind } from '../store/restores-repo.js';
import { exists, fsyncDirectory, SQLITE_SIDECARS, tempNameBeside } from '../util/durable-fs.js';
import { processTag, writerGone } from '../util/liveness.js';

/** The journal's file name in state_dir (only one restore of several targets runs at a time). */
export const RESTORE_JOURNAL_FILE = 'restore-journal.json';

/**
 * One target of a restore of several: a database file, or the media folder, staged beside it.
 * - file: `staged` is renamed over `target` (its stale -wal/-shm removed first); `safetyCopy` is
 *   the complete copy of the replaced database, taken before the journal was written, or null when
 *   there was none. One rename.
 * - folder: `target` is renamed to `safetyCopy` (null when there was no folder), then `staged` to
 *   `target`.
 */
export interface JournalSwap {
  kind: RestoreKind;
  name: string;
  type: 'file' | 'folder';
  target: string;
  staged: string;
  /**
   * The staged file's (folder's) inode, which a rename keeps: the swap is done exactly when the
   * target has it. A staged file gone while the target lacks it was lost (deleted by hand): the
   * restore cannot be finished and is undone.
   */
  stagedIno: number;
  safetyCopy: string | null;
}

/**
 * Written (atomically) once every target is staged and every safety copy is taken, before the first
 * swap; removed when the last swap is done or the swaps are undone. Found at a start, it means a
 * restore stopped mid-swap: see recoverJournal.
 */
export interface RestoreJournal {
  version: 1;
  /** processTag of the restore that wrote it: a live writer's journal is never recovered. */
  writer: string;
  archive: string;
  startedAt: string;
  swaps: JournalSwap[];
}

export async function writeJournal(file: string, journal: Omit<RestoreJournal, 'version' | 'writer'>) {
  const content: RestoreJournal = { version: 1, writer: processTag(), ...journal };
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await fsyncDirectory(path.dirname(file));
  } catch (error) {
    await rm(temp, { force: true });
    throw wrapError(`write the restore journal ${file}`, error, 'RW_RESTORE_IO');
  }
  return content;
}

/** The journal at `file`, or undefined when there is none. A journal that cannot be read throws. */
export async function readJournal(file: string): Promise<RestoreJournal | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(`read the restore journal ${file}`, error, 'RW_RESTORE_JOURNAL');
  }
  try {
    const journal = JSON.parse(text) as RestoreJournal;
    if (journal.version !== 1 || !Array.isArray(journal.swaps)) throw new Error('unknown format');
    return journal;
  } catch (error) {
    throw new FatalError(
      'RW_RESTORE_JOURNAL',
      `restore journal ${file} cannot be read (${(error as Error).message}); ` +
        'check the targets it names by hand, then delete it',
      { cause: error },
    );
  }
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
  await fsyncDirectory(path.dirname(file)).catch(() => {});
}

/** Every path a journal names (staged files and folders, safety copies): a clean-up must keep them. */
export function journalPaths(journal: RestoreJournal): string[] {
  return journal.swaps.flatMap((swap) => [swap.staged, ...(swap.safetyCopy ? [swap.safetyCopy] : [])]);
}

/** done: the staged target is in place; pending: still staged; lost: neither (see stagedIno). */
export async function swapState(swap: JournalSwap): Promise<'done' | 'pending' | 'lost'> {
  if ((await inodeOf(swap.target)) === swap.stagedIno) return 'done';
  return (await inodeOf(swap.staged)) === swap.stagedIno ? 'pending' : 'lost';
}

/**
 * Puts one staged target in place (see JournalSwap). Safe to run again after a crash part-way:
 * each step looks at the disk first.
 */
export async function applySwap(swap: JournalSwap): Promise<void> {
  const state = await swapState(swap);
  if (state === 'done') return;
  if (state === 'lost') throw new Error(`the staged copy ${swap.staged} of ${swap.target} is gone`);
  if (swap.type === 'file') {
    await removeSidecars(swap.target);
  } else if (swap.safetyCopy && (await exists(swap.target)) && !(await exists(swap.safetyCopy))) {
    await rename(swap.target, swap.safetyCopy);
  }
  await rename(swap.staged, swap.target);
  await fsyncDirectory(path.dirname(swap.target));
}

/**
 * Puts a target back as it was before its swap, from its safety copy, whatever state the swap is
 * in; then removes what was staged for it. Safe to run again after a crash part-way. A database's
 * safety copy is copied back (so it stays, as after any restore); a folder is renamed back.
 */
export async function undoSwap(swap: JournalSwap): Promise<void> {
  const done = (await swapState(swap)) === 'done';
  if (swap.type === 'file') {
    if (done) {
      await removeSidecars(swap.target);
      if (swap.safetyCopy) {
        const temp = tempNameBeside(swap.target);
        try {
          await copyFile(swap.safetyCopy, temp, constants.COPYFILE_EXCL);
          await syncFile(temp);
          await rename(temp, swap.target);
        } catch (error) {
          await rm(temp, { force: true });
          throw error;
        }
      } else await rm(swap.target, { force: true });
    } else {
      await rm(swap.staged, { force: true });
      // A safety copy that is a second name of the target itself (linkSafetyCopy) would follow the
      // app's next writes: with the target kept, it is no copy of anything, so the name goes.
      const kept = swap.safetyCopy ? await inodeOf(swap.safetyCopy) : undefined;
      if (swap.safetyCopy && kept !== undefined && kept === (await inodeOf(swap.target)))
        await rm(swap.safetyCopy, { force: true });
    }
  } else {
    // Done: the restored folder goes back to the staged name (and is deleted); then the old folder
    // comes back. Half-way (old folder moved aside, staged not yet in): only the latter.
    if (done) await rename(swap.target, swap.staged);
    if (swap.safetyCopy && (await exists(swap.safetyCopy)) && !(await exists(swap.target)))
      await rename(swap.safetyCopy, swap.target);
    await rm(swap.staged, { recursive: true, force: true });
  }
  await fsyncDirectory(path.dirname(swap.target));
}

/** What recoverJournal did with a journal it found. */
export interface JournalRecovery {
  journal: string;
  archive: string;
  /** forward: every swap completed; back: every target put back as it was. */
  direction: 'forward' | 'back';
  targets: string[];
}

/**
 * Finishes or undoes a restore of several targets that stopped mid-swap (killed, power cut), from
 * its journal at `file`: when every swap not yet done still has its staged file or folder, they
 * are completed (roll forward: the restore ends as if it had not stopped); otherwise every swap is
 * undone from its safety copy (roll back). Then the journal is removed. Returns undefined when
 * there is no journal. Throws RW_RESTORE_RUNNING when the journal's writer is still running,
 * RW_RESTORE_JOURNAL when it cannot be read or recovery fails (the journal is kept, to try again).
 */
export async function recoverJournal(file: string): Promise<JournalRecovery | undefined> {
  const journal = await readJournal(file);
  if (!journal) return undefined;
  if (journal.writer !== processTag() && !writerGone(journal.writer)) {
    throw new FatalError(
      'RW_RESTORE_RUNNING',
      `a restore from ${journal.archive} is running (journal ${file}); wait for it to finish`,
    );
  }
  // Forward when nothing staged was lost: every swap not done can still be done.
  let forward = true;
  for (const swap of journal.swaps) if ((await swapState(swap)) === 'lost') forward = false;
  try {
    if (forward) for (const swap of journal.swaps) await applySwap(swap);
    else for (const swap of [...journal.swaps].reverse()) await undoSwap(swap);
  } catch (error) {
    throw wrapError(
      `${forward ? 'finish' : 'undo'} the interrupted restore of journal ${file} (it is kept to try again)`,
      error,
      'RW_RESTORE_JOURNAL',
    );
  }
  await removeJournal(file);
  return {
    journal: file,
    archive: journal.archive,
    direction: forward ? 'forward' : 'back',
    targets: journal.swaps.map((swap) => swap.target),
  };
}

async function inodeOf(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.ino;
}

async function removeSidecars(file: string): Promise<void> {
  for (const suffix of SQLITE_SIDECARS) await rm(`${file}${suffix}`, { force: true });
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
