import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import type { ArchiveSchemaFingerprint } from '../core/schema-change.js';
import { manifestFingerprint } from '../archive/manifest-fingerprint.js';
import { offsiteObjectUrl } from '../offsite/offsite-options.js';
import { readRemoteManifest } from '../offsite/remote-manifest.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { SchemaInspector } from '../watch/ports.js';
import { newestInBucket } from './bucket-newest.js';
import type { OffsiteService } from './offsite-service.js';

/**
 * The watch role's schema: it cannot open the app's databases, so "now" is what the newest archive
 * in the bucket (the catalog of record, written by the backup sidecars) recorded in its manifest,
 * read by byte ranges. Each pass lists the bucket; a manifest is read once per object generation.
 * Resolves null when the bucket holds no archive; rejects when the bucket cannot be listed or the
 * newest archive's manifest cannot be read (encrypted, damaged), naming it.
 */
export class BucketSchemaInspector implements SchemaInspector {
  #read: { name: string; generation: number; fingerprint: ArchiveSchemaFingerprint } | undefined;

  constructor(
    private readonly store: () => Promise<ObjectStore>,
    private readonly config: Pick<BackupConfig, 'prefix' | 'timezone'> & {
      offsite: Pick<OffsiteConfig, 'bucket' | 'prefix'>;
    },
  ) {}

  async fingerprint(signal: AbortSignal): Promise<ArchiveSchemaFingerprint | null> {
    const store = await this.store();
    const newest = await newestInBucket(store, this.config, signal);
    if (!newest) return null;
    const held = this.#read;
    if (held?.name === newest.name && held.generation === newest.object.generation) return held.fingerprint;
    const url = offsiteObjectUrl(this.config.offsite, newest.name);
    const { manifest } = await readRemoteManifest(store, newest.object, url, signal);
    const fingerprint = manifestFingerprint(manifest, { url, takenAt: newest.takenAt });
    this.#read = { name: newest.name, generation: newest.object.generation, fingerprint };
    return fingerprint;
  }
}

/**
 * The watch role's schema inspector, or null (said once in the log) when there is nothing it can
 * read: no `backup.offsite` bucket, or copies encrypted with age (a watcher holds no identity).
 */
export function bucketSchemaInspector(
  backup: Pick<BackupConfig, 'prefix' | 'timezone'>,
  offsite: OffsiteService | undefined,
  logger: Logger,
): BucketSchemaInspector | null {
  if (!offsite) {
    logger.warn(
      'the watch role compares no schema: backup.offsite names no bucket to read archive manifests from',
    );
    return null;
  }
  if (offsite.config.encryption) {
    logger.warn(
      'the watch role compares no schema: the copies in the bucket are encrypted (backup.offsite.encryption), and a watcher holds no identity to read their manifests',
    );
    return null;
  }
  return new BucketSchemaInspector(() => offsite.objectStore(), { ...backup, offsite: offsite.config });
}
