import { constants } from 'node:fs';
import { copyFile, link, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FatalError, wrapError } from '../core/errors.js';
import { exists, fsyncDirectory, partialNameOf, SQLITE_SIDECARS } from '../util/durable-fs.js';

/**
 * The copy of a database taken just before a restore overwrites it. `snapshot` is a consistent
 * SQLite copy (VACUUM INTO, a single read transaction: every committed row, WAL included);
 * `raw-copy` is the fallback for a file SQLite cannot read (corrupt or not a database), where the
 * bytes of the file and of its -wal/-journal are kept as they are, for forensics. `link` (restore
 * of several targets only, see linkSafetyCopy) is a second name for the current file itself, which
 * the swap then leaves alone.
 */
export interface SafetyCopy {
  file: string;
  method: 'snapshot' | 'raw-copy' | 'link';
  /** Sidecar copies made next to `file` (raw-copy only), e.g. `<file>-wal`. */
  sidecars: string[];
}

/** `<db>.pre-restore-YYYYMMDD_HHMMSS` (UTC), with `-2`, `-3`... when that name is taken. */
export async function safetyCopyName(db: string, now: Date): Promise<string> {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '_');
  const base = `${db}.pre-restore-${stamp}`;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await exists(candidate)) && !(await exists(partialNameOf(candidate)))) return candidate;
  }
}

/**
 * Prepares the current database `db` for replacement and keeps a copy of it:
 * 1. checkpoints its WAL into the main file (TRUNCATE), so deleting the -wal later loses nothing;
 *    refuses with RW_RESTORE_DB_BUSY when another process keeps the checkpoint from completing
 *    (the app is still running: stop it first);
 * 2. writes a consistent snapshot to `<copy>.<writer>.partial` (partialNameOf) with VACUUM INTO,
 *    checks it, fsyncs it and renames it to `<copy>` (a crash never leaves a half copy under the
 *    final name; the daemon removes a killed writer's partial at start).
 * When SQLite cannot read `db` at all, copies its files byte for byte instead (method raw-copy).
 */
export async function takeSafetyCopy(db: string, now: Date): Promise<SafetyCopy> {
  const file = await safetyCopyName(db, now);
  const partial = partialNameOf(file);
  // Not even a SQLite header: copy the bytes before SQLite opens it and perhaps drops its journal.
  if (!(await hasSqliteHeader(db))) return rawCopy(db, file);
  try {
    snapshotInto(db, partial);
  } catch (error) {
    await rm(partial, { force: true });
    if (!isUnreadableDatabase(error)) {
      throw error instanceof FatalError
        ? error
        : wrapError(`take a safety copy of ${db}`, error, 'RW_RESTORE_SAFETY_COPY');
    }
    return rawCopy(db, file);
  }
  try {
    checkDatabase(partial);
    await syncFile(partial);
    await rename(partial, file);
    await fsyncDirectory(path.dirname(file));
  } catch (error) {
    await rm(partial, { force: true });
    throw wrapError(`take a safety copy of ${db}`, error, 'RW_RESTORE_SAFETY_COPY');
  }
  return { file, method: 'snapshot', sidecars: [] };
}

/**
 * The safety copy of a restore that then renames a staged file over `db` (a restore of several
 * targets): the current file gets a second name, `<db>.pre-restore-<timestamp>` (link(2)), instead
 * of being copied. The rename that follows points `db` at the restored file and leaves the old
 * inode, now reachable only by the safety copy's name, as it was: a complete copy at no cost in
 * time or space. Before the link, as for a snapshot, the WAL is checkpointed into the main file
 * (TRUNCATE) under an exclusive lock, refusing with RW_RESTORE_DB_BUSY when another process holds
 * it, so the file alone holds every committed row (the -wal the swap deletes is empty). Until the
 * swap the two names share the file: nothing may write to it meanwhile (the app is stopped; a
 * refused restore only removes the second name). Falls back to takeSafetyCopy when SQLite cannot
 * read `db` (raw copy with its sidecars, for forensics) or the filesystem has no hard links.
 */
export async function linkSafetyCopy(db: string, now: Date): Promise<SafetyCopy> {
  if (!(await hasSqliteHeader(db))) return takeSafetyCopy(db, now);
  const file = await safetyCopyName(db, now);
  let connection: Database.Database | undefined;
  let copyInstead = false;
  try {
    connection = new Database(db, { fileMustExist: true, timeout: 5_000 });
    lockOrRefuse(connection, db);
    await link(db, file);
  } catch (error) {
    if (error instanceof FatalError) throw error;
    copyInstead = isUnreadableDatabase(error) || NO_LINKS.has((error as NodeJS.ErrnoException).code ?? '');
    if (!copyInstead) throw wrapError(`take a safety copy of ${db}`, error, 'RW_RESTORE_SAFETY_COPY');
  } finally {
    connection?.close(); // releases the exclusive lock, which the copy below would wait on
  }
  if (copyInstead) return takeSafetyCopy(db, now);
  try {
    await fsyncDirectory(path.dirname(file));
  } catch (error) {
    await rm(file, { force: true });
    throw wrapError(`take a safety copy of ${db}`, error, 'RW_RESTORE_SAFETY_COPY');
  }
  return { file, method: 'link', sidecars: [] };
}

/** link(2) errors of a filesystem (or mount) that has no hard links: a copy is taken instead. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

function snapshotInto(db: string, into: string): void {
  const connection = new Database(db, { fileMustExist: true, timeout: 5_000 });
  try {
    lockOrRefuse(connection, db);
    connection.prepare('VACUUM INTO ?').run(into);
  } finally {
    connection.close();
  }
}

/**
 * Refuses with RW_RESTORE_DB_BUSY, naming `db`, when another process has it open as far as SQLite
 * can tell (the checks takeSafetyCopy makes, without the copy): a restore of several databases
 * asks this of each before it writes anything. A file SQLite cannot read is not refused here.
 */
export function assertNotInUse(db: string): void {
  let connection: Database.Database;
  try {
    connection = new Database(db, { fileMustExist: true, timeout: 5_000 });
  } catch {
    return; // gone or unreadable: the restore's own checks say what is wrong with it
  }
  try {
    lockOrRefuse(connection, db);
  } catch (error) {
    if (error instanceof FatalError || !isUnreadableDatabase(error)) throw error;
  } finally {
    connection.close();
  }
}

/**
 * Checkpoints `db`'s WAL and takes an exclusive lock, kept until the connection closes; throws
 * RW_RESTORE_DB_BUSY when another connection stands in the way.
 */
function lockOrRefuse(connection: Database.Database, db: string): void {
  const busy = (why: string) =>
    new FatalError(
      'RW_RESTORE_DB_BUSY',
      `database ${db} is in use by another process (${why}); stop the app before restoring. Nothing was changed.`,
    );
  const [result] = connection.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number }>;
  if (result && result.busy !== 0) throw busy('its WAL could not be checkpointed');
  // In WAL mode an exclusive lock is refused while any other connection has the file open, even
  // an idle one: replacing the file under a running app would split its writes. The lock is
  // kept until this connection closes (locking_mode EXCLUSIVE), so nobody writes before the copy.
  connection.pragma('locking_mode = EXCLUSIVE');
  try {
    connection.prepare('BEGIN EXCLUSIVE').run();
    connection.prepare('ROLLBACK').run();
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw busy('another connection has it open');
    throw error;
  }
}

/** Runs PRAGMA integrity_check on `file` (read-only); throws RW_RESTORE_INTEGRITY naming the first problems. */
export function checkDatabase(file: string): void {
  let problems: string[];
  const connection = new Database(file, { readonly: true, fileMustExist: true });
  try {
    problems = (connection.pragma('integrity_check') as Array<{ integrity_check: string }>).map(
      (row) => row.integrity_check,
    );
  } catch (error) {
    throw new FatalError(
      'RW_RESTORE_INTEGRITY',
      `integrity check of ${file} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    connection.close();
  }
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw new FatalError(
      'RW_RESTORE_INTEGRITY',
      `integrity check of ${file} failed: ${problems.slice(0, 3).join('; ')}`,
    );
  }
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0');

async function hasSqliteHeader(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(SQLITE_HEADER);
  } finally {
    await handle.close();
  }
}

function isUnreadableDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
}

async function rawCopy(db: string, file: string): Promise<SafetyCopy> {
  const sidecars: string[] = [];
  try {
    await copyDurably(db, file);
    for (const suffix of SQLITE_SIDECARS) {
      if (suffix === '-shm' || !(await exists(`${db}${suffix}`))) continue; // -shm is only an index
      await copyDurably(`${db}${suffix}`, `${file}${suffix}`);
      sidecars.push(`${file}${suffix}`);
    }
    await fsyncDirectory(path.dirname(file));
  } catch (error) {
    throw wrapError(`copy unreadable database ${db} aside`, error, 'RW_RESTORE_SAFETY_COPY');
  }
  return { file, method: 'raw-copy', sidecars };
}

async function copyDurably(from: string, to: string): Promise<void> {
  const partial = partialNameOf(to);
  try {
    await copyFile(from, partial, constants.COPYFILE_EXCL);
    await syncFile(partial);
    await rename(partial, to);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
