import type { Config } from '../config/schema.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Store } from '../store/store.js';
import type { SchemaInspector } from '../watch/ports.js';
import { type WatchedService, watchedService } from '../watch/watched-service.js';
import type { GlobalOptions } from './common.js';
import { withApp } from './with-app.js';

/** What a read-only command (status, history) sees of runwarden's state. */
export interface StateView {
  config: Config;
  services: readonly WatchedService[];
  store: Store;
  /** false when state_dir holds no store yet: every record then reads as absent. */
  exists: boolean;
  /** The cluster bucket (leases), or undefined without `cluster`; its client loads on the call. */
  clusterStore(): Promise<ObjectStore | undefined>;
  /** The files' schema, or in the watch role the bucket's newest manifest's (see App). */
  schemaInspector(): Promise<SchemaInspector | null>;
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
  return withApp(options, 'read', (app) =>
    work({
      config: app.config,
      services: app.config.services.map(watchedService),
      store: app.store,
      exists: app.storeExists,
      clusterStore: () => app.clusterStore(),
      schemaInspector: () => app.schemaInspector(),
    }),
  );
}
