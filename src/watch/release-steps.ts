import { type ReleaseState, stepTraffic } from '../core/candidate-test.js';
import { errorMessage } from '../core/errors.js';
import { COMPARISON_RULE, comparisonEvaluation, stepWindow } from '../core/release-step.js';
import { evaluateRules, type RuleEvaluation } from '../core/rules.js';
import { compareWithStable, countErrors } from '../core/stable-comparison.js';
import { judge } from '../core/watch-machine.js';
import { type ServiceObservation, servingOf, snapshotOf } from '../core/watch-types.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { inTurn, releaseActionLease, takeActionLease } from './action-lease.js';
import { applyJudgement } from './apply-judgement.js';
import { watchEventBase } from './event-base.js';
import { gatherSamples } from './gather-samples.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The guide's blue-green flow, second half (release.auto_promote): a passed candidate takes traffic
 * in release.steps. Each step lasts release.step_wait; during it the watch's rules run on the
 * candidate over the step's own data, and at its end the candidate is also compared with the stable
 * revision serving the rest (core/stable-comparison.ts). A trip of either goes back to stable
 * through the one rollback path; a step short of data waits, up to the watch's deadline, after
 * which it rolls back (a release never goes ahead on too little). The last step (100 %) passed is
 * the promotion.
 */
export async function judgeReleaseStep(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<void> {
  const step = watch.release?.step;
  if (!step) return;
  const steps = service.config.release.steps;
  const stepEnd = step.startedAt + service.config.release.step_wait;
  const now = rt.clock();
  const subject = { revision: watch.candidate, rules: service.rules };
  const samples = await gatherSamples(rt, service, subject, observation, signal, (what, error) => {
    rt.logger.warn({ service: service.key, what, err: errorMessage(error) }, 'metric read failed');
  });
  const evaluations = evaluateRules(service.rules, samples, {
    now,
    since: step.startedAt,
    windows: rt.windows,
  });
  if (now >= stepEnd && step.percent < 100 && watch.stable)
    evaluations.push(await compare(rt, service, watch, step.startedAt, watch.stable, signal));
  const judgement = judge({ ...watch, deadline: stepEnd }, evaluations, now, {
    // Short of data at the step's end: wait for it while the watch lasts, then go back to stable.
    insufficientData: now < watch.deadline ? 'keep_waiting' : 'rollback_at_deadline',
    frozen: rt.store.memory(service.key).frozen,
  });
  const last = step.index >= steps.length - 1;
  if (judgement.kind !== 'promote' || last) {
    const done =
      judgement.kind === 'promote'
        ? { ...judgement, reason: `the last release step (${step.percent} %) passed clean` }
        : judgement;
    await applyJudgement(rt, service, watch, done, evaluations, observation, signal);
    return;
  }
  const reason = `step ${step.index + 1} of ${steps.length} (${step.percent} %) passed`;
  await applyJudgement(
    rt,
    service,
    watch,
    { ...judgement, kind: 'keep_watching', reason },
    evaluations,
    observation,
    signal,
  );
  await moveToStep(rt, service, watch, step.index + 1, signal);
}

/** Reads the 5xx and all requests of both revisions since the step started and compares them. */
async function compare(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  startedAt: number,
  stable: string,
  signal: AbortSignal,
): Promise<RuleEvaluation> {
  const now = rt.clock();
  const policy = service.config.release.comparison;
  const window = stepWindow(startedAt, now, rt.windows) ?? { start: startedAt, end: startedAt };
  const read = (revision: string) =>
    rt.metricSource.requestCounts({ ...service.ref, revision }, window, rt.windows.alignmentMs, signal);
  try {
    const [candidate, base] = await Promise.all([read(watch.candidate), read(stable)]);
    const comparison = compareWithStable(
      countErrors(candidate.items, window),
      countErrors(base.items, window),
      {
        significance: policy.significance,
        minRatio: policy.min_ratio,
        minDifference: policy.min_difference,
        minRequests: policy.min_requests,
      },
    );
    return comparisonEvaluation(comparison, window, `${candidate.query} | ${base.query}`);
  } catch (error) {
    if (signal.aborted) throw error;
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'comparison read failed');
    return {
      rule: COMPARISON_RULE,
      signal: 'requests',
      action: 'rollback',
      window,
      query: '',
      raw: {},
      value: null,
      threshold: 0,
      verdict: 'insufficient_data',
      detail: `request counts could not be read for the comparison with stable: ${errorMessage(error)}`,
    };
  }
}

/**
 * Gives the candidate step `index` of release.steps (the stable revision the rest, tags kept),
 * conditional on the etag just read, under the action lease; confirms it on Cloud Run, stores the
 * step and moves the watch's deadline to cover the steps left plus a watch window for their data.
 * A failure is logged and announced once per step; the next tick tries again. Returns whether the
 * step was taken.
 */
export async function moveToStep(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  index: number,
  signal: AbortSignal,
): Promise<boolean> {
  const release = service.config.release;
  const percent = release.steps[index] as number;
  const stable = watch.stable;
  if (!stable && percent < 100) {
    announceFailureOnce(
      rt,
      service,
      watch,
      `release:no-stable`,
      'no known good revision to serve the rest of the traffic',
    );
    return false;
  }
  // A standby changes no traffic: the step waits for the leader (as a promotion does).
  if (!rt.leadership.mayAct()) return false;
  return inTurn(rt, service.key, () => takeStep(rt, service, watch, index, percent, stable, signal));
}

async function takeStep(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  index: number,
  percent: number,
  stable: string | null,
  signal: AbortSignal,
): Promise<boolean> {
  const release = service.config.release;
  // A rollback that went first (its turn) ended the watch: no step for a rolled-back candidate.
  if (rt.store.watches.get(watch.id)?.status !== 'watching') return false;
  const owner = takeActionLease(rt, service.key);
  if (owner !== null) return false;
  try {
    const current = await rt.cloudRun.getService(service.ref, signal);
    let observation = current;
    if ((servingOf(current.traffic)[watch.candidate] ?? 0) !== percent) {
      await rt.cloudRun.updateTraffic(
        service.ref,
        stepTraffic(watch.candidate, stable ?? watch.candidate, percent, current.traffic),
        current.etag,
        signal,
      );
      observation = await rt.cloudRun.getService(service.ref, signal);
      const got = servingOf(observation.traffic)[watch.candidate] ?? 0;
      if (got !== percent) throw new Error(`traffic shows ${got} % on ${watch.candidate}, not ${percent} %`);
    }
    const now = rt.clock();
    const state: ReleaseState = {
      test: watch.release?.test ?? { verdict: 'passed', detail: 'passed', at: now },
      step: { index, percent, startedAt: now },
    };
    const deadline = now + (release.steps.length - index) * release.step_wait + service.config.watch_window;
    rt.store.transaction(() => {
      rt.store.watches.setRelease(watch.id, state, deadline);
      rt.store.services.saveSnapshot(service.key, snapshotOf(observation), now);
    });
    rt.live.of(service.key).observation = observation;
    const reason = `${watch.candidate} takes ${percent} % of traffic, step ${index + 1} of ${release.steps.length}`;
    rt.logger.info({ service: service.key, revision: watch.candidate, percent }, 'release step taken');
    rt.events.emit('watch:step', {
      ...watchEventBase(rt, service, watch, { reason }),
      step: index + 1,
      steps: release.steps.length,
      percent,
    });
    return true;
  } catch (error) {
    if (signal.aborted) throw error;
    rt.logger.warn({ service: service.key, err: errorMessage(error) }, 'release step failed; will retry');
    announceFailureOnce(
      rt,
      service,
      watch,
      `release:step:${index}`,
      `could not give ${watch.candidate} ${percent} % of traffic: ${errorMessage(error)}`,
    );
    return false;
  } finally {
    releaseActionLease(rt, service.key);
  }
}

function announceFailureOnce(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  key: string,
  message: string,
): void {
  if (!rt.store.watches.claimAnnouncement(watch.id, key)) return;
  rt.events.emit('watch:failure', {
    ...watchEventBase(rt, service, watch, { reason: `release: ${message}` }),
    operation: 'release',
    error: { code: 'RW_RELEASE_STEP', message },
  });
}
