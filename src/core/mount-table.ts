/**
 * The mounts of this process (/proc/self/mountinfo) and what they mean for SQLite and runwarden's
 * locks. Pure: the caller reads the file and resolves paths (realpath) before asking.
 */

/** One line of /proc/<pid>/mountinfo, the fields runwarden uses. */
export interface MountEntry {
  /** Where it is mounted, octal escapes (`\040` for a space) decoded. */
  mountPoint: string;
  /** The file system type after the ` - ` separator: `ext4`, `nfs4`, `tmpfs`, `fuse.gcsfuse`. */
  fsType: string;
  /** The mount source (a device, `server:/export`, a bucket name). */
  source: string;
}

/**
 * Parses mountinfo text (proc(5)): `id parent major:minor root mount-point options [optional...] -
 * fstype source super-options`. Lines that do not have that shape are skipped rather than failing
 * the caller: the check that uses it is a safety net, and a kernel adding a field must not stop
 * backups.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const separator = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    if (separator < 0 || mountPoint === undefined || fsType === undefined) continue;
    entries.push({
      mountPoint: unescapeOctal(mountPoint),
      fsType,
      source: unescapeOctal(fields[separator + 2] ?? ''),
    });
  }
  return entries;
}

/** The kernel writes space, tab, newline and backslash in paths as `\040`, `\011`, `\012`, `\134`. */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_match, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/**
 * The mount holding `absolutePath` (already resolved with realpath): the longest mount point that is
 * the path or one of its parent folders. Of several mounts on one point, the last listed is the one
 * on top (mountinfo lists in mount order), so it wins.
 */
export function mountOf(absolutePath: string, entries: readonly MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    if (!contains(entry.mountPoint, absolutePath)) continue;
    if (!best || entry.mountPoint.length >= best.mountPoint.length) best = entry;
  }
  return best;
}

function contains(mountPoint: string, target: string): boolean {
  if (mountPoint === '/') return target.startsWith('/');
  return target === mountPoint || target.startsWith(`${mountPoint}/`);
}

/**
 * File system types SQLite and runwarden cannot be used on, with why. Cloud Storage FUSE (the type
 * Cloud Run's `gcs` volumes and gcsfuse mounts show) is an object store behind a file interface:
 * SQLite's locks and runwarden's lock files need POSIX locking and an exclusive create, an archive
 * is published by an atomic rename, and restores link files into place.
 */
export const UNSUITABLE_FILE_SYSTEMS: Readonly<Record<string, string>> = {
  'fuse.gcsfuse':
    'Cloud Storage FUSE has no file locking, no atomic rename and no hard links, so SQLite databases and lock files on it are not safe',
};

/** What a folder is used for, as the refusal names it. */
export type FolderUse =
  | 'backup source'
  | 'backup folder (archives and the backup lock)'
  | 'state_dir (store and daemon lock)';

export interface MountProblem {
  folder: string;
  use: FolderUse;
  mount: MountEntry;
  reason: string;
}

/**
 * The folders that sit on a file system runwarden refuses, each with its mount and the reason; an
 * empty list when all are fine. `folders` holds resolved paths (realpath).
 */
export function unsuitableMounts(
  folders: ReadonlyArray<{ folder: string; use: FolderUse }>,
  entries: readonly MountEntry[],
): MountProblem[] {
  const problems: MountProblem[] = [];
  for (const { folder, use } of folders) {
    const mount = mountOf(folder, entries);
    const reason = mount ? UNSUITABLE_FILE_SYSTEMS[mount.fsType] : undefined;
    if (mount && reason) problems.push({ folder, use, mount, reason });
  }
  return problems;
}

/** One line per problem: the folder, what it is for, the mount and the reason. */
export function describeMountProblem(problem: MountProblem): string {
  const { folder, use, mount, reason } = problem;
  return `${use} ${folder} is on ${mount.mountPoint} (${mount.fsType}, source ${mount.source}): ${reason}; put it on a local disk, an in-memory volume or NFS (Filestore)`;
}
