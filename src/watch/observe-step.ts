import type { ObservationStep } from '../core/deploy-detect.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { watchEventBase } from './event-base.js';
import { startRestorePoint } from './restore-points.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** How long rule evaluations are kept for `runwarden history --watch`; history lines are kept for good. */
const EVALUATIONS_KEPT_MS = 90 * 86_400_000;

/** Carries out what a poll meant (core's ObservationStep): start or cancel a watch. */
export function applyObservationStep(rt: WatchRuntime, service: WatchedService, step: ObservationStep): void {
  const now = rt.clock();
  switch (step.kind) {
    case 'none':
      return;
    case 'start_watch':
      startWatch(rt, service, step);
      return;
    case 'cancel_watch': {
      const watch = rt.store.watches.get(step.watchId) ?? null;
      if (!rt.store.watches.end(step.watchId, 'cancelled', step.reason, now)) return;
      rt.events.emit('watch:ended', {
        ...watchEventBase(rt, service, watch, { reason: step.reason }),
        status: 'cancelled',
      });
      return;
    }
    case 'bad_revision_serving': {
      const reason = `${step.revision} serves traffic but was marked bad; no automatic action (a person chose it?)`;
      rt.events.emit('watch:held', {
        ...watchEventBase(rt, service, null, { reason }),
        candidate: step.revision,
        wouldDo: null,
      });
      return;
    }
  }
}

function startWatch(
  rt: WatchRuntime,
  service: WatchedService,
  step: Extract<ObservationStep, { kind: 'start_watch' }>,
) {
  const now = rt.clock();
  const baseline = rt.live.of(service.key).fingerprint;
  // One transaction from the watch row to its history entries (the recorder writes them as the
  // events are emitted): a daemon killed between them left an open watch whose history never said
  // it started.
  rt.store.transaction(() => {
    let superseded: WatchRecord | null = null;
    if (step.supersedes !== null) {
      superseded = rt.store.watches.get(step.supersedes) ?? null;
      rt.store.watches.end(
        step.supersedes,
        'superseded',
        `a newer revision (${step.candidate}) is being watched`,
        now,
      );
    }
    const watch = rt.store.watches.create({
      service: service.key,
      candidate: step.candidate,
      stable: step.stable,
      startedAt: now,
      deadline: step.deadline,
      dryRun: service.config.mode === 'dry-run',
    });
    if (superseded) {
      const reason = `a newer revision (${step.candidate}) is being watched`;
      rt.events.emit('watch:ended', {
        ...watchEventBase(rt, service, superseded, { reason }),
        status: 'superseded',
      });
    }
    // Evaluations are many (every rule, every tick); old ones go when a new watch starts.
    rt.store.evaluations.prune(now - EVALUATIONS_KEPT_MS);
    const point = startRestorePoint(rt, service, watch, baseline);
    rt.metrics.activeWatches.set({ service: service.key }, 1);
    const reason = step.firstSight
      ? `first sight of ${step.candidate} with no stored history: watched before it is trusted (no known good revision to roll back to; a trip alerts)`
      : `new revision ${step.candidate} (stable: ${step.stable ?? 'none known'})`;
    rt.events.emit('watch:started', {
      ...watchEventBase(rt, service, watch, { reason }),
      deadline: watch.deadline,
      supersedes: step.supersedes,
      restorePoint: point,
    });
  });
  rt.logger.info(
    {
      service: service.key,
      candidate: step.candidate,
      stable: step.stable,
      first_sight: step.firstSight === true,
    },
    'watching a new revision',
  );
}
