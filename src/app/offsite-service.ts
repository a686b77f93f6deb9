import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import type { EventBus } from '../events/event-bus.js';
import { offsiteStoreOptions } from '../offsite/offsite-options.js';
import { OffsiteUploader } from '../offsite/offsite-uploader.js';
import type { RemotePruneOutcome } from '../offsite/remote-prune.js';
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
  /**
   * Applies the off-site policy to the bucket's archive objects (see pruneRemote): a dry run lists
   * and plans only. Logs each deletion, each object left in place and a summary. Rejects when the
   * bucket cannot be listed or the policy is bad.
   */
  prune(options: { dryRun: boolean; signal: AbortSignal }): Promise<RemotePruneOutcome>;
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
  const logger = deps.logger.child({ component: 'offsite' });
  return {
    config: offsite,
    objectStore,
    async prune(options) {
      const { pruneRemote } = await import('../offsite/remote-prune.js');
      const outcome = await pruneRemote(
        {
          store: await objectStore(),
          confirmed: () => deps.store().offsiteCopies.list(),
          forget: (copy) => deps.store().offsiteCopies.forget(copy.objectName, copy.generation),
          config: deps.config,
          events: deps.events,
          clock: deps.clock ?? Date.now,
        },
        options,
      );
      logRemotePrune(logger, outcome);
      return outcome;
    },
    uploader: new OffsiteUploader({
      store: objectStore,
      catalog: () => deps.store().backups,
      config: offsite,
      events: deps.events,
      logger,
      ...(deps.clock ? { clock: deps.clock } : {}),
    }),
  };
}

/** The backup config narrowed to one with off-site copies, or undefined when they are off. */
export function withOffsite(config: BackupConfig): (BackupConfig & { offsite: OffsiteConfig }) | undefined {
  return config.offsite ? (config as BackupConfig & { offsite: OffsiteConfig }) : undefined;
}

function logRemotePrune(logger: Logger, outcome: RemotePruneOutcome): void {
  for (const decision of outcome.decisions) {
    if (decision.deleted) logger.info({ object: decision.url }, 'off-site copy pruned');
    if (decision.error)
      logger.warn({ object: decision.url, err: decision.error }, 'off-site copy could not be pruned');
  }
  logger.info(
    {
      bucket: outcome.bucket,
      retained: outcome.retained,
      deleted: outcome.deleted.length,
      ignored: outcome.ignored,
      dry_run: outcome.dryRun,
    },
    outcome.emptyPolicy ? 'off-site retention policy is empty: nothing pruned' : 'off-site retention applied',
  );
}
