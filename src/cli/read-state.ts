import type { Config } from '../config/schema.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import { Store } from '../store/store.js';
import { type WatchedService, watchedService } from '../watch/watched-service.js';
import { type GlobalOptions, loadFromOptions } from './common.js';

/** What a read-only command (status, history) sees of runwarden's state. */
export interface StateView {
  config: Config;
  services: readonly WatchedService[];
  store: Store;
  backups: BackupsRepo;
  /** false when state_dir holds no store yet: every record then reads as absent. */
  exists: boolean;
}

/**
 * Runs a command that only reads: the store is opened only if it exists, and nothing is created
 * (no state folder, no store file); without one, the command reads an empty store in memory, so
 * it reports "nothing yet" the way it reports an empty store. No Google client and no notifier is
 * built: reading needs neither.
 */
export async function withStateView<T>(
  options: GlobalOptions,
  work: (view: StateView) => T | Promise<T>,
): Promise<T> {
  const { config } = loadFromOptions(options);
  return withReadOnlyStore(config.state_dir, (store, exists) =>
    work({
      config,
      services: config.services.map(watchedService),
      store: store,
      backups: store.backups,
      exists,
    }),
  );
}

/** Runs `work` on the store of `stateDir` if there is one, else on an empty one; never creates it. */
export async function withReadOnlyStore<T>(
  stateDir: string,
  work: (store: Store, exists: boolean) => T | Promise<T>,
): Promise<T> {
  const existing = Store.openExisting(stateDir);
  const store = existing ?? Store.empty();
  try {
    return await work(store, existing !== undefined);
  } finally {
    store.close();
  }
}
