import type { BackupConfig } from '../config/schema/backup.js';
import { archiveTime } from '../core/archive-time.js';
import { newestArchive } from '../core/startup-backup.js';
import { OffsiteMetadata } from '../offsite/offsite-errors.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';

/** The newest archive object in the bucket, as the catalog of record says. */
export interface NewestInBucket {
  /** Object name under the configured prefix. */
  name: string;
  /** When it was taken (from its name), ms since the epoch; its write time when the name says none. */
  takenAt: number;
  /** The Cloud Run revision that took it (`cloud_run_revision` metadata), when it names one. */
  revision: string | undefined;
  /** The object as listed: generation, size, metadata. */
  object: ObjectInfo;
}

/**
 * Lists the bucket's archives (`.zip`, and `.zip.age` copies) and returns the newest by the time its
 * name says it was taken: a backlog copied late must not pass for the newest archive. Undefined
 * when there is none. Rejects with the store's errors.
 */
export async function newestInBucket(
  store: ObjectStore,
  config: Pick<BackupConfig, 'prefix' | 'timezone'>,
  signal: AbortSignal,
): Promise<NewestInBucket | undefined> {
  const archives = (await store.list('', signal))
    .filter((object) => object.name.endsWith('.zip') || object.name.endsWith('.zip.age'))
    .map((object) => ({
      name: object.name,
      takenAt:
        archiveTime(object.name.replace(/\.age$/, ''), config.prefix, config.timezone) ?? object.updated,
      revision: object.metadata[OffsiteMetadata.revision],
      object,
    }));
  return newestArchive(archives);
}
