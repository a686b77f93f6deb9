import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import type { EventBus } from '../events/event-bus.js';
import { offsiteStoreOptions } from '../offsite/offsite-options.js';
import { OffsiteUploader } from '../offsite/offsite-uploader.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * Off-site copies as every caller takes them: the daemon runs the uploader's loop, `runwarden
 * backup` drains it once, restore and import read from the bucket. The storage client
 * (@google-cloud/storage and its auth stack) loads on the first call that needs the bucket.
 */
export interface OffsiteService {
  readonly config: OffsiteConfig;
  /** Copies the catalog's backlog to the bucket (see OffsiteUploader). */
  readonly uploader: OffsiteUploader;
  /** The bucket and prefix of the config, opened once. */
  objectStore(): Promise<ObjectStore>;
}

export interface OffsiteServiceDeps {
  config: BackupConfig & { offsite: OffsiteConfig };
  store: () => Store;
  events: EventBus;
  logger: Logger;
  clock?: () => number;
}

export function createOffsiteService(deps: OffsiteServiceDeps): OffsiteService {
  const offsite = deps.config.offsite;
  let opened: Promise<ObjectStore> | undefined;
  const objectStore = () => {
    opened ??= (async () => {
      const { openGcsObjectStore } = await import('../storage/gcs-object-store.js');
      return openGcsObjectStore(offsiteStoreOptions(offsite));
    })();
    // A failed open (bad options) is not cached: the next call reports it again.
    opened.catch(() => {
      opened = undefined;
    });
    return opened;
  };
  return {
    config: offsite,
    objectStore,
    uploader: new OffsiteUploader({
      store: objectStore,
      catalog: () => deps.store().backups,
      config: offsite,
      events: deps.events,
      logger: deps.logger.child({ component: 'offsite' }),
      ...(deps.clock ? { clock: deps.clock } : {}),
    }),
  };
}

/** The backup config narrowed to one with off-site copies, or undefined when they are off. */
export function withOffsite(config: BackupConfig): (BackupConfig & { offsite: OffsiteConfig }) | undefined {
  return config.offsite ? (config as BackupConfig & { offsite: OffsiteConfig }) : undefined;
}
