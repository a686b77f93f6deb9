import path from 'node:path';
import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import type { RetentionPolicy } from '../core/retention.js';
import type { ObjectStoreOptions } from '../storage/client-options.js';
import { AGE_SUFFIX } from './encrypt.js';

/**
 * The object store of the off-site copies: the bucket and prefix of the config. An http:// endpoint
 * is an emulator (no credentials looked for); an https:// one is a private endpoint of Google's, so
 * Application Default Credentials are sent to it.
 */
export function offsiteStoreOptions(offsite: OffsiteConfig): ObjectStoreOptions {
  return {
    bucket: offsite.bucket,
    prefix: offsite.prefix,
    ...(offsite.api_endpoint
      ? { apiEndpoint: offsite.api_endpoint, authWithEndpoint: offsite.api_endpoint.startsWith('https://') }
      : {}),
  };
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
