/**
 * Whether this runwarden may act for one scope (`backup`: scheduled backups; `watch`: traffic
 * changes, promotions, alert rollbacks). With no `cluster` configured there is one runwarden and it
 * always may (`soleLeadership`); with one, a lease in Cloud Storage decides (src/lease/gcs-lease.ts).
 */
export type LeaseScope = 'backup' | 'watch';

export interface Leadership {
  readonly scope: LeaseScope;
  /**
   * True while this instance holds the lease and its local deadline minus the safety margin has not
   * passed: check it right before every action is sent, never cache it.
   */
  mayAct(): boolean;
  /** The lease object's generation this instance holds (recorded with each action); undefined when not held or sole. */
  generation(): number | undefined;
  /**
   * Runs `hook` (awaited, in registration order) each time the lease is taken, before `mayAct()`
   * turns true: a new leader restores the shared state and finishes what the old one owed here.
   * Returns the function that removes the hook.
   */
  beforeActing(hook: (signal: AbortSignal) => Promise<void>): () => void;
  /** Calls `listener` whenever mayAct() changes; returns the function that removes it. */
  onChange(listener: (leader: boolean) => void): () => void;
}

/** The one runwarden of an app: always the leader, nothing to take or renew. */
export function soleLeadership(scope: LeaseScope): Leadership {
  return {
    scope,
    mayAct: () => true,
    generation: () => undefined,
    beforeActing: () => () => {},
    onChange: () => () => {},
  };
}
