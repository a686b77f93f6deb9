import { FatalError, RetryableError } from '../core/errors.js';

/**
 * The archive is damaged, tampered with or not one of ours: an entry's bytes do not match the
 * manifest, an entry is missing or extra, a database fails `integrity_check`, or the ZIP itself is
 * unreadable. The message names the archive, the entry and what was wrong. Never retry; never use
 * the archive.
 */
export class BackupCorruptError extends FatalError {
  readonly file: string;
  /** The entry at fault (`db/db.sqlite3`, `manifest.json`), or undefined for the archive as a whole. */
  readonly entry: string | undefined;

  constructor(file: string, entry: string | undefined, problem: string, options?: { cause?: unknown }) {
    super(
      'RW_BACKUP_CORRUPT',
      `backup ${file} is corrupt: ${entry ? `entry ${entry}: ` : ''}${problem}`,
      options,
    );
    this.file = file;
    this.entry = entry;
  }
}

/** The archive's manifest has a format_version newer than this runwarden reads. */
export class BackupFormatError extends FatalError {
  constructor(file: string, version: number, supported: number) {
    super(
      'RW_BACKUP_FORMAT',
      `backup ${file} has manifest format_version ${version}; this runwarden reads up to ${supported}. Upgrade runwarden to read it.`,
    );
  }
}

/** A required source (main database, tenant databases, media folder) is missing. */
export class BackupSourceMissingError extends FatalError {
  readonly source: string;

  constructor(source: string, problem: string) {
    super('RW_BACKUP_SOURCE_MISSING', `backup source ${source}: ${problem}`);
    this.source = source;
  }
}

/** The disk holding the backup folder filled up; the partial archive was removed. */
export class BackupDiskFullError extends FatalError {
  constructor(dir: string, doing: string, options?: { cause?: unknown }) {
    super(
      'RW_BACKUP_DISK_FULL',
      `backup folder ${dir} is full (ENOSPC) while ${doing}; the partial archive was removed and older backups were not touched`,
      options,
    );
  }
}

/**
 * A database snapshot did not finish within its bounds (time or restarts), typically because a
 * writer kept it from completing. Trying again later may work.
 */
export class SnapshotBoundError extends RetryableError {
  constructor(source: string, problem: string) {
    super('RW_BACKUP_SNAPSHOT_BOUND', `snapshot of ${source}: ${problem}`);
  }
}
