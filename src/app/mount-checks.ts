import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { FatalError } from '../core/errors.js';
import {
  describeMountProblem,
  type FolderUse,
  parseMountinfo,
  unsuitableMounts,
} from '../core/mount-table.js';
import type { Logger } from '../telemetry/logger.js';

/** Where Linux lists this process's mounts; elsewhere there is no such file and nothing is checked. */
export const PROC_MOUNTINFO = '/proc/self/mountinfo';

/**
 * Refuses to start when state_dir, or (with backups) a backup source folder or the backup folder,
 * sits on a file system SQLite and runwarden's locks cannot use (Cloud Storage FUSE): the error
 * names each folder, its mount and the reason. Without a mountinfo file (not Linux) it checks
 * nothing. Throws FatalError RW_UNSUITABLE_MOUNT.
 */
export async function refuseUnsuitableMounts(
  config: Pick<Config, 'state_dir' | 'backup'>,
  options: { backups: boolean; mountinfo?: string; logger: Logger },
): Promise<void> {
  const file = options.mountinfo ?? PROC_MOUNTINFO;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    options.logger.debug({ file, err: (error as Error).message }, 'no mount table: mounts not checked');
    return;
  }
  const folders: Array<{ folder: string; use: FolderUse }> = [
    { folder: config.state_dir, use: 'state_dir (store and daemon lock)' },
  ];
  if (options.backups) {
    const { sources, dir } = config.backup;
    folders.push({ folder: dir, use: 'backup folder (archives and the backup lock)' });
    for (const folder of new Set([
      sources.data_dir,
      path.dirname(sources.main_db.path),
      tenantsFolder(sources.tenants.pattern),
      sources.media.dir,
    ]))
      folders.push({ folder, use: 'backup source' });
  }
  const resolved = await Promise.all(
    folders.map(async ({ folder, use }) => ({ folder: await existingRealpath(folder), use })),
  );
  const problems = unsuitableMounts(resolved, parseMountinfo(text));
  if (problems.length === 0) return;
  throw new FatalError(
    'RW_UNSUITABLE_MOUNT',
    `refusing to start: ${problems.map(describeMountProblem).join('; ')}`,
  );
}

/** The folder holding the tenant databases: the pattern's path up to its {tenant} segment. */
function tenantsFolder(pattern: string): string {
  const segments = pattern.split('/');
  return (
    segments
      .slice(
        0,
        segments.findIndex((segment) => segment.includes('{tenant}')),
      )
      .join('/') || '/'
  );
}

/**
 * realpath of the folder, or of its nearest existing parent with the rest appended (a folder created
 * later lands on the mount of the parent it is created in).
 */
async function existingRealpath(folder: string): Promise<string> {
  const absolute = path.resolve(folder);
  try {
    return await realpath(absolute);
  } catch {
    const parent = path.dirname(absolute);
    if (parent === absolute) return absolute;
    return path.join(await existingRealpath(parent), path.basename(absolute));
  }
}
