import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import { isArchiveName } from './naming.js';
import { PARTIAL_SUFFIX } from '../util/temp-files.js';

/**
 * What `backups list` shows for one archive:
 * - `verified`: cataloged, its last verification passed, and the file is there with its size;
 * - `failed`: cataloged, but its last re-verification failed;
 * - `unverified`: cataloged without a passing verification;
 * - `missing`: cataloged, but the file is gone;
 * - `changed`: cataloged, but the file's size differs from the catalog (replaced or truncated);
 * - `uncataloged`: a finished archive name in the folder the catalog lacks (`backups import` it);
 * - `partial`: a `.zip.partial` left by an interrupted run; never a backup.
 * Only `verified` archives count as backups for retention and restore.
 */
export type InventoryStatus =
  | 'verified'
  | 'failed'
  | 'unverified'
  | 'missing'
  | 'changed'
  | 'uncataloged'
  | 'partial';

export interface InventoryItem {
  file: string;
  status: InventoryStatus;
  /** Size on disk now (undefined when missing). */
  size?: number;
  /** The catalog row, when there is one. */
  record?: BackupRecord;
}

/**
 * Cataloged backups (newest first) followed by the archives and partial files found in `dir` that
 * the catalog lacks (by name). Read-only.
 */
export async function listInventory(
  dir: string,
  prefix: string,
  catalog: BackupsRepo,
): Promise<InventoryItem[]> {
  const items: InventoryItem[] = [];
  const known = new Set<string>();
  for (const record of catalog.list()) {
    known.add(record.file);
    const size = await sizeOf(record.file);
    let status: InventoryStatus = record.status;
    if (size === undefined) status = 'missing';
    else if (size !== record.size) status = 'changed';
    items.push({ file: record.file, status, ...(size === undefined ? {} : { size }), record });
  }
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort().reverse();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    if (known.has(file)) continue;
    const partial =
      name.endsWith(PARTIAL_SUFFIX) && isArchiveName(name.slice(0, -PARTIAL_SUFFIX.length), prefix);
    if (!partial && !isArchiveName(name, prefix)) continue;
    const size = await sizeOf(file);
    if (size === undefined) continue;
    items.push({ file, status: partial ? 'partial' : 'uncataloged', size });
  }
  return items;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}
