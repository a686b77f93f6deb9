import { parseLeaseRecord } from '../core/lease.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { LeaseScope } from './leadership.js';

/** Who holds one lease, as the bucket says (`runwarden status`). */
export interface LeaseStatus {
  scope: LeaseScope;
  /** null: nobody holds it (no object), or it could not be read (`error`). */
  holder: string | null;
  /** ISO time the holder took it. */
  since: string | null;
  generation: number | null;
  ttl_ms: number | null;
  /** Why the lease could not be read or understood. */
  error?: string;
}

const SCOPES: readonly LeaseScope[] = ['watch', 'backup'];

/**
 * Reads each lease object once (no take, no write). A holder named here may have stopped renewing:
 * the object says who took it last, not that it is alive; a standby decides that on its own clock.
 */
export async function readLeases(store: ObjectStore, signal: AbortSignal): Promise<LeaseStatus[]> {
  return Promise.all(
    SCOPES.map(async (scope): Promise<LeaseStatus> => {
      const none = { scope, holder: null, since: null, generation: null, ttl_ms: null };
      try {
        const read = await store.read(`lease/${scope}`, {}, signal);
        const record = parseLeaseRecord(read.bytes.toString('utf8'));
        if ('problem' in record) return { ...none, generation: read.generation, error: record.problem };
        return {
          scope,
          holder: record.holder,
          since: record.since,
          generation: read.generation,
          ttl_ms: record.ttl_ms,
        };
      } catch (error) {
        if (error instanceof RunwardenError && error.code === 'RW_STORAGE_NOT_FOUND') return none;
        return { ...none, error: `cannot read the lease: ${errorMessage(error)}` };
      }
    }),
  );
}
