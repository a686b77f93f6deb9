import { trafficTo } from '../core/rollback-plan.js';
import { servingOf, snapshotOf } from '../core/watch-types.js';
import { FatalError, RunwardenError, UsageError } from '../core/errors.js';
import { inTurn, releaseActionLease, takeActionLease } from './action-lease.js';
import { badMarkNotice } from './bad-mark.js';
import { candidateTestNotice } from './candidate-notice.js';
import { watchEventBase } from './event-base.js';
import type { WatchRuntime } from './watch-runtime.js';
import { findService } from './watched-service.js';

export interface ManualPromoteResult {
  service: string;
  revision: string;
  previous: string | null;
  /** false when the revision already served all traffic. */
  trafficChanged: boolean;
}

/**
 * `runwarden promote --revision R`, the guide's blue-green switch: 100 % of traffic to a tested
 * revision (tags kept), conditional on the etag read just before (a concurrent change is reported,
 * never overwritten), then R becomes the last known good revision. A revision marked bad is refused
 * (RW_REVISION_BAD, naming the mark) unless `force`; with it the mark is lifted: a person decided.
 * So is a tagged no-traffic candidate that did not pass its tests at its tag URL (RW_CANDIDATE_FAILED,
 * or RW_CANDIDATE_UNTESTED while under test or never reachable), unless `force`.
 * An open watch of R ends promoted; a watch of another revision ends cancelled; an automatic
 * rollback still owed is dropped (the person's choice stands).
 */
export async function manualPromote(
  rt: WatchRuntime,
  key: string,
  revision: string,
  signal: AbortSignal,
  options: { force?: boolean } = {},
): Promise<ManualPromoteResult> {
  const service = findService(rt.services, key);
  const revisions = await rt.cloudRun.listRevisions(service.ref, signal);
  const target = revisions.find((entry) => entry.name === revision);
  if (!target) {
    const names = revisions.slice(0, 5).map((entry) => entry.name);
    throw new UsageError(
      `revision "${revision}" is not a revision of ${service.key}; newest: ${names.join(', ')}`,
    );
  }
  if (!target.ready)
    throw new UsageError(`revision ${revision} is not ready; only a ready revision can take traffic`);
  // The test verdict first: it says why more plainly than the bad mark a failed test leaves.
  const untested = options.force === true ? null : candidateTestNotice(rt, service.key, revision);
  if (untested !== null)
    throw new FatalError(untested.code, `${untested.message}; pass --force to promote it anyway`);
  const bad = options.force === true ? null : badMarkNotice(rt, service.key, revision);
  if (bad !== null) throw new FatalError('RW_REVISION_BAD', `${bad}; pass --force to promote it anyway`);
  // One traffic change of a service at a time in this process (see inTurn).
  return inTurn(rt, service.key, async () => {
    const owner = takeActionLease(rt, service.key);
    if (owner !== null)
      throw new FatalError(
        'RW_ACTION_BUSY',
        `${owner} is changing ${service.key} right now; try again in a moment`,
      );
    try {
      let observation = await rt.cloudRun.getService(service.ref, signal);
      const changed = servingOf(observation.traffic)[revision] !== 100;
      if (changed) {
        observation = await rt.cloudRun
          .updateTraffic(service.ref, trafficTo(revision, observation.traffic), observation.etag, signal)
          .catch((error: unknown) => {
            if (!(error instanceof RunwardenError) || error.code !== 'RW_CLOUDRUN_CONFLICT') throw error;
            throw new FatalError(
              'RW_CLOUDRUN_CONFLICT',
              `${service.key} was changed by someone else while promoting ${revision}; nothing was overwritten: check its traffic and run again`,
              { cause: error },
            );
          });
        observation = await rt.cloudRun.getService(service.ref, signal);
        if (servingOf(observation.traffic)[revision] !== 100)
          throw new FatalError(
            'RW_PROMOTE_UNCONFIRMED',
            `traffic of ${service.key} does not show 100 % on ${revision} after the update`,
          );
      }
      return record(rt, service.key, revision, observation, changed);
    } finally {
      releaseActionLease(rt, service.key);
    }
  });
}

function record(
  rt: WatchRuntime,
  key: string,
  revision: string,
  observation: Parameters<typeof snapshotOf>[0],
  trafficChanged: boolean,
): ManualPromoteResult {
  const service = findService(rt.services, key);
  const now = rt.clock();
  const previous = rt.store.services.get(key)?.stableRevision ?? null;
  const reason = `promoted by a person (runwarden promote)`;
  const open = rt.store.watches.open(key) ?? null;
  rt.store.transaction(() => {
    if (open)
      rt.store.watches.end(open.id, open.candidate === revision ? 'promoted' : 'cancelled', reason, now);
    rt.store.services.setStable(key, revision, 'manual', now);
    rt.store.revisions.mark(key, revision, 'good', reason, now);
    if (previous !== revision) rt.store.knownGood.append(key, revision, 'promoted', now);
    rt.store.services.saveSnapshot(key, snapshotOf(observation), now);
    // A person chose where traffic goes: an automatic rollback still owed must not undo it.
    rt.store.owed.clearService(key);
  });
  rt.live.of(key).observation = observation;
  rt.metrics.activeWatches.set({ service: key }, 0);
  if (open && open.candidate !== revision)
    rt.events.emit('watch:ended', { ...watchEventBase(rt, service, open, { reason }), status: 'cancelled' });
  rt.events.emit('watch:promoted', {
    ...watchEventBase(rt, service, open, { reason }),
    candidate: revision,
    stable: revision,
    dryRun: false,
    trigger: 'manual',
    previous,
  });
  return { service: key, revision, previous, trafficChanged };
}
