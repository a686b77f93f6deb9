import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import type { RetentionPolicy } from '../core/retention.js';
import { bucketStoreOptions, type ObjectStoreOptions } from '../storage/client-options.js';
import { AGE_SUFFIX } from './encrypt.js';

/** The object store of the off-site copies: the bucket and prefix of the config. */
export function offsiteStoreOptions(offsite: OffsiteConfig): ObjectStoreOptions {
  return bucketStoreOptions(offsite);
}

/** The off-site policy: its own when set, else the local one; periods in the backup's time zone. */
export function offsiteRetentionPolicy(backup: BackupConfig): RetentionPolicy {
  return { ...(backup.offsite?.retention ?? backup.retention), timezone: backup.timezone };
}

/**
 * The object name of an archive's copy, under the store's prefix: its file name, so the bucket reads
 * like the backup folder and `restore gs://bucket/<prefix><name>` names the same archive. An
 * encrypted copy is `<name>.age`, as age names its files.
 */
export function offsiteObjectName(archiveFile: string, encrypted = false): string {
  return encrypted ? `${path.basename(archiveFile)}${AGE_SUFFIX}` : path.basename(archiveFile);
}

/** The gs:// URL of an object of the configured bucket and prefix: what the catalog records. */
export function offsiteObjectUrl(
  offsite: Pick<OffsiteConfig, 'bucket' | 'prefix'>,
  objectName: string,
): string {
  return `gs://${offsite.bucket}/${offsite.prefix}${objectName}`;
}
