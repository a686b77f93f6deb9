import { Store } from '../../src/store/store.js';

/**
 * Records `revision` as the known good revision of `service` in the store under `stateDir`, before a
 * daemon starts there: what a watcher that ran before (or restored its state copy) knows. First
 * sight proves nothing, so a daemon with an empty store would watch the revision serving for its
 * whole window first (tested in state-copy.test.ts); tests about later deploys start from here.
 */
export function knownGoodInStore(stateDir: string, service: string, revision: string): void {
  const store = Store.open(stateDir);
  try {
    const now = Date.now();
    store.transaction(() => {
      store.services.setStable(service, revision, 'baseline', now);
      store.knownGood.append(service, revision, 'baseline', now);
    });
  } finally {
    store.close();
  }
}
