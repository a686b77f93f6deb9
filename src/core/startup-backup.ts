/** `backup.before_start`: when a backup sidecar backs up before it reports itself started. */
export type BeforeStart = 'auto' | 'always' | 'never';

/** The newest archive of the catalog of record (the bucket, or the local catalog without one). */
export interface NewestArchive {
  /** Object or file name, for logs. */
  name: string;
  /** The Cloud Run revision that took it; undefined when it names none (not a sidecar, or older). */
  revision: string | undefined;
}

export interface StartupBackupDecision {
  backup: boolean;
  /** Why, for the log and /startupz. */
  why: string;
  /**
   * The catalog of record holds no archive at all: a first deploy, whose data may not exist yet.
   * A backup that finds no source then has nothing to protect, and the start goes on.
   */
  noArchiveYet?: true;
}

/**
 * Whether this start takes a verified backup before it reports started. With `auto`, a sidecar in
 * a revision (K_REVISION) backs up unless the newest archive names that very revision: the first
 * instance of a new revision backs up the data its migrations are about to change, and the
 * instances after it (and restarts) start at once. Outside Cloud Run (no revision) it never waits.
 */
export function decideStartupBackup(input: {
  policy: BeforeStart;
  revision: string | undefined;
  newest: NewestArchive | undefined;
}): StartupBackupDecision {
  const { policy, revision, newest } = input;
  if (policy === 'never') return { backup: false, why: 'backup.before_start is never' };
  if (policy === 'always') return { backup: true, why: 'backup.before_start is always' };
  if (revision === undefined) return { backup: false, why: 'not in a Cloud Run revision (K_REVISION unset)' };
  if (!newest)
    return { backup: true, why: `no archive yet; revision ${revision} starts`, noArchiveYet: true };
  if (newest.revision === revision)
    return { backup: false, why: `the newest archive ${newest.name} was taken by revision ${revision}` };
  const by = newest.revision === undefined ? 'names no revision' : `was taken by revision ${newest.revision}`;
  return { backup: true, why: `the newest archive ${newest.name} ${by}; revision ${revision} starts` };
}

/**
 * The newest of `archives` by the time its name says it was taken (falling back to when it was
 * written): a backlog copied late must not pass for the newest archive.
 */
export function newestArchive<T extends { takenAt: number }>(archives: readonly T[]): T | undefined {
  let newest: T | undefined;
  for (const archive of archives) if (!newest || archive.takenAt > newest.takenAt) newest = archive;
  return newest;
}
