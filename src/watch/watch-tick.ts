import { onObservation } from '../core/deploy-detect.js';
import { evaluateRules } from '../core/rules.js';
import { judge } from '../core/watch-machine.js';
import { type ServiceObservation, snapshotOf } from '../core/watch-types.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { applyJudgement } from './apply-judgement.js';
import { testCandidate } from './candidate-tick.js';
import { judgeReleaseStep } from './release-steps.js';
import { watchEventBase } from './event-base.js';
import { candidateTargets, describeFailure, gatherSamples } from './gather-samples.js';
import { applyObservationStep } from './observe-step.js';
import { settleOwedRollback } from './owed-rollback.js';
import { probeJob } from './probe-job.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * One pass of the deploy watch for one service: poll Cloud Run, let the core say what changed,
 * and, while a candidate is watched, gather its samples, let the core judge them and carry the
 * judgement out. Everything that must survive a restart is in the store, so a new daemon resumes
 * an open watch where the old one stopped, and first finishes a rollback it owes.
 */
export async function tickService(
  rt: WatchRuntime,
  service: WatchedService,
  signal: AbortSignal,
): Promise<void> {
  const polled = await poll(rt, service, signal);
  if (!polled) return;
  const { observation, stale } = polled;
  // A rollback decided earlier and never confirmed comes before anything new is judged.
  if (await settleOwedRollback(rt, service, observation, signal)) return;
  await noteSchema(rt, service, signal);
  const step = onObservation(rt.store.memory(service.key), observation, rt.clock(), {
    windowMs: service.config.watch_window,
  });
  applyObservationStep(rt, service, step);
  if (!stale) rt.store.services.saveSnapshot(service.key, snapshotOf(observation), rt.clock());
  const watch = rt.store.watches.open(service.key);
  rt.metrics.activeWatches.set({ service: service.key }, watch ? 1 : 0);
  if (watch) await judgeWatch(rt, service, watch, observation, signal);
}

async function judgeWatch(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  // A release in steps is judged step by step; a tagged no-traffic candidate by its test.
  if (watch.release?.step) return judgeReleaseStep(rt, service, watch, observation, signal);
  if (await testCandidate(rt, service, watch, observation, signal)) return;
  await probeBeforeConcluding(rt, service, watch, observation, signal);
  const failures: string[] = [];
  const subject = { revision: watch.candidate, rules: service.rules };
  const samples = await gatherSamples(rt, service, subject, observation, signal, (what, error) => {
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'metric read failed');
    failures.push(describeFailure(what, error));
    reportOnce(rt, service, watch, `failure:${what}`, 'metrics', error);
  });
  const now = rt.clock();
  const evaluations = evaluateRules(service.rules, samples, {
    now,
    since: watch.startedAt,
    windows: rt.windows,
  });
  const memory = rt.store.memory(service.key);
  const judgement = judge(watch, evaluations, now, {
    insufficientData: service.config.insufficient_data,
    frozen: memory.frozen,
  });
  await applyJudgement(rt, service, watch, judgement, evaluations, observation, signal);
}

/**
 * Probes live in memory, so a daemon that just started has none: a watch it resumes past its
 * deadline would be ended for want of probes ("insufficient data") before the probe job, which
 * needs this tick's poll, ever ran. When a conclusion is due and the candidate can be probed but has
 * not been since the watch started, it is probed once first.
 */
async function probeBeforeConcluding(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  if (rt.clock() < watch.deadline || !service.rules.some((rule) => rule.signal === 'health')) return;
  const targets = candidateTargets(observation, watch.candidate);
  const probed = rt.live.probesOf(service.key, targets).some((sample) => sample.at >= watch.startedAt);
  if (targets.length > 0 && !probed) await probeJob(rt, service, () => {}).runOnce(signal);
}

/**
 * The service from its region's shared listing (region-polls.ts). While Cloud Run refuses reads
 * for quota, the last listing stands in: the tick goes on, but the snapshot is not saved, so
 * `runwarden status` shows when the service was really last polled. The refusal is said once per
 * region (log, metric), not as a failure of each watch.
 */
async function poll(rt: WatchRuntime, service: WatchedService, signal: AbortSignal) {
  const live = rt.live.of(service.key);
  try {
    const { observation, stale } = await rt.regions.observe(service.ref, signal);
    if (live.pollFailing) rt.logger.info({ service: service.key }, 'polling Cloud Run works again');
    live.pollFailing = false;
    live.observation = observation;
    return { observation, stale };
  } catch (error) {
    if (signal.aborted) throw error;
    if (error instanceof RunwardenError && error.code === 'RW_CLOUDRUN_THROTTLED') return undefined;
    rt.logger.error({ service: service.key, err: errorMessage(error) }, 'poll of Cloud Run failed');
    // Announced when it starts failing, not on every tick.
    if (!live.pollFailing) {
      const watch = rt.store.watches.open(service.key) ?? null;
      rt.events.emit('watch:failure', {
        ...watchEventBase(rt, service, watch, {
          reason: `cannot read the service from Cloud Run: ${errorMessage(error)}`,
        }),
        operation: 'poll',
        error: errorOf(error),
      });
    }
    live.pollFailing = true;
    return undefined;
  }
}

/**
 * Remembers the schema each tick: the baseline when the next deploy shows up. One reader serves
 * every service, so a failure is logged when it starts and when it ends, not by each service's tick
 * (50 services, a bucket down for an hour: one line, not 12,000).
 */
async function noteSchema(rt: WatchRuntime, service: WatchedService, signal: AbortSignal): Promise<void> {
  if (!rt.schema) return;
  try {
    rt.live.of(service.key).fingerprint = await rt.schema.fingerprint(signal);
    if (rt.live.schemaFailing) rt.logger.info('reading the database schema works again');
    rt.live.schemaFailing = false;
  } catch (error) {
    if (signal.aborted) return; // the tick was stopped: no failure of the schema
    if (!rt.live.schemaFailing)
      rt.logger.warn(
        { err: errorMessage(error) },
        'could not read the database schema; said again only once it works (restore reports say it is unknown meanwhile)',
      );
    rt.live.schemaFailing = true;
  }
}

function reportOnce(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  key: string,
  operation: string,
  error: unknown,
): void {
  if (!rt.store.watches.claimAnnouncement(watch.id, key)) return;
  rt.events.emit('watch:failure', {
    ...watchEventBase(rt, service, watch, { reason: `${operation} failed: ${errorMessage(error)}` }),
    operation,
    error: errorOf(error),
  });
}

function errorOf(error: unknown): { code: string; message: string } {
  return { code: error instanceof RunwardenError ? error.code : 'RW_FAILED', message: errorMessage(error) };
}
