import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { FatalError, wrapError } from '../core/errors.js';
import { formatBytes } from '../util/format-bytes.js';

/** Bytes a restore will write beside one target before it swaps anything. */
export interface SpaceNeed {
  /** The target (file or folder); its nearest existing folder tells the filesystem. */
  target: string;
  /** The staged copy: the archive entry's (entries') size. */
  staging: number;
  /** The safety copy of the current database (its size with its WAL); 0 for a folder (renamed). */
  safetyCopy: number;
}

/**
 * Refuses, before anything is written, when a filesystem holding targets has less free space (for
 * this user) than their staged copies and safety copies need together. Targets on one filesystem
 * add up. Throws RW_RESTORE_NO_SPACE naming the folder, what is needed and what is free.
 */
export async function assertFreeSpace(needs: readonly SpaceNeed[]): Promise<void> {
  const byDevice = new Map<number, { dir: string; staging: number; safetyCopy: number }>();
  for (const need of needs) {
    const dir = await existingFolder(path.dirname(need.target));
    const device = (await stat(dir)).dev;
    const sum = byDevice.get(device) ?? { dir, staging: 0, safetyCopy: 0 };
    sum.staging += need.staging;
    sum.safetyCopy += need.safetyCopy;
    byDevice.set(device, sum);
  }
  for (const { dir, staging, safetyCopy } of byDevice.values()) {
    const fs = await statfs(dir).catch((error: unknown) => {
      throw wrapError(`read the free space of ${dir}`, error, 'RW_RESTORE_IO');
    });
    const free = fs.bavail * fs.bsize;
    if (staging + safetyCopy > free) {
      throw new FatalError(
        'RW_RESTORE_NO_SPACE',
        `not enough free space on the filesystem of ${dir}: the restore needs ${formatBytes(staging + safetyCopy)} ` +
          `(${formatBytes(staging)} to stage the archive's files beside their targets, ${formatBytes(safetyCopy)} ` +
          `for safety copies of the current databases), ${formatBytes(free)} is free. Nothing was changed.`,
      );
    }
  }
}

async function existingFolder(dir: string): Promise<string> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if ((await stat(current).catch(() => undefined))?.isDirectory()) return current;
    if (current === path.dirname(current)) return current;
  }
}
