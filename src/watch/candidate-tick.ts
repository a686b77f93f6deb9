import {
  judgeCandidate,
  type ReleaseState,
  reachOf,
  type SmokeOutcome,
  type TestVerdict,
  UNREACHABLE_DETAIL,
} from '../core/candidate-test.js';
import { errorMessage } from '../core/errors.js';
import { TOKEN_FAILED } from '../core/probe-auth.js';
import { type ServiceObservation, tagUrlOf } from '../core/watch-types.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { watchEventBase } from './event-base.js';
import { TAG_TARGET } from './gather-samples.js';
import { probeJob } from './probe-job.js';
import { moveToStep } from './release-steps.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * The guide's blue-green flow, first half: a new revision deployed with --no-traffic and a tag is
 * tested at its tag URL (probes, then smoke checks) instead of being judged on metrics it cannot
 * have. A failed candidate ends its watch failed and is marked bad; a passed one takes its first
 * release step (release.auto_promote) or waits for `runwarden promote` until its watch's deadline.
 * An untagged one cannot be reached by anything: that is said once, and the watch goes on as
 * before (it ends short of data). Returns true when this tick was the test's.
 */
export async function testCandidate(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<boolean> {
  const reach = reachOf(observation.traffic, watch.candidate);
  if (reach === 'serving') return false;
  if (reach === 'unreachable') {
    if (watch.release?.test.verdict !== 'unreachable') {
      setTest(rt, watch, 'unreachable', UNREACHABLE_DETAIL);
      rt.events.emit('watch:candidate', {
        ...watchEventBase(rt, service, watch, {
          reason: `${watch.candidate} takes no traffic and has no tag: ${UNREACHABLE_DETAIL}`,
        }),
        verdict: 'unreachable',
        detail: UNREACHABLE_DETAIL,
      });
    }
    return false;
  }
  if (watch.release?.test.verdict === 'passed') {
    await afterPass(rt, service, watch, signal);
    return true;
  }
  const now = rt.clock();
  let probes = probesOf(rt, service, watch);
  // Probes live in memory: a restarted daemon probes once before concluding on none.
  if (now >= watch.deadline && probes.length === 0) {
    await probeJob(rt, service, () => {}).runOnce(signal);
    probes = probesOf(rt, service, watch);
  }
  const input = {
    probes,
    consecutive: service.config.probe_consecutive,
    failLimit: failLimit(service),
    smokeChecks: service.config.smoke.length,
    smoke: null,
    now,
    deadline: watch.deadline,
  };
  let judgement = judgeCandidate(input);
  if (judgement.kind === 'run_smoke') {
    const smoke = await runSmoke(rt, service, watch, observation, signal);
    // No token for the checks says nothing about the candidate: it stays under test.
    judgement = smoke
      ? judgeCandidate({ ...input, smoke })
      : { kind: 'testing', detail: `${TOKEN_FAILED}: no ID token for the smoke checks` };
  }
  switch (judgement.kind) {
    case 'run_smoke':
      return true;
    case 'testing':
      if (watch.release?.test.detail !== judgement.detail) setTest(rt, watch, 'testing', judgement.detail);
      return true;
    case 'failed':
      fail(rt, service, watch, judgement.detail);
      return true;
    case 'passed': {
      const passed = setTest(rt, watch, 'passed', judgement.detail);
      rt.events.emit('watch:candidate', {
        ...watchEventBase(rt, service, watch, {
          reason: `${watch.candidate} passed its tests at its tag URL: ${judgement.detail}`,
        }),
        verdict: 'passed',
        detail: judgement.detail,
      });
      rt.logger.info({ service: service.key, revision: watch.candidate }, 'candidate passed its tests');
      await afterPass(rt, service, { ...watch, release: passed }, signal);
      return true;
    }
  }
}

/** Tag probes of this candidate since its watch started (a tag may have pointed elsewhere before). */
function probesOf(rt: WatchRuntime, service: WatchedService, watch: WatchRecord) {
  return rt.live
    .probesOf(service.key, [TAG_TARGET])
    .filter((sample) => sample.revision === watch.candidate && sample.at >= watch.startedAt);
}

/** Failures in a row that fail a candidate: the health rule's threshold, else probe_consecutive. */
function failLimit(service: WatchedService): number {
  const health = service.rules.find((rule) => rule.signal === 'health');
  return health?.threshold ?? service.config.probe_consecutive;
}

/**
 * A passed candidate: its first release step when automatic promotion is on (not in dry-run, not
 * while frozen); otherwise it waits for a person until the watch's deadline, which ends the watch
 * without promotion, saying how to promote it (the verdict stays for `runwarden promote`).
 */
async function afterPass(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  signal: AbortSignal,
): Promise<void> {
  const release = service.config.release;
  const frozen = rt.store.memory(service.key).frozen;
  const auto = release.auto_promote && !watch.dryRun && !frozen;
  // A step that could not be taken (announced) is tried again on the next tick, until the deadline.
  if (auto && (await moveToStep(rt, service, watch, 0, signal))) return;
  if (rt.clock() < watch.deadline) return;
  const why = !release.auto_promote
    ? 'release.auto_promote is off'
    : watch.dryRun
      ? 'dry run: it would have taken traffic in steps'
      : frozen
        ? 'the service is frozen'
        : 'its first release step could not be taken';
  const reason = `${watch.candidate} passed its tests at its tag URL but took no traffic (${why}); promote it with: runwarden promote --service ${service.key} --revision ${watch.candidate}`;
  if (!rt.store.watches.end(watch.id, 'inconclusive', reason, rt.clock())) return;
  rt.metrics.activeWatches.set({ service: service.key }, 0);
  rt.events.emit('watch:ended', {
    ...watchEventBase(rt, service, watch, { reason }),
    status: 'inconclusive',
  });
}

function fail(rt: WatchRuntime, service: WatchedService, watch: WatchRecord, detail: string): void {
  const now = rt.clock();
  const reason = `${watch.candidate} failed its tests at its tag URL: ${detail}`;
  const ended = rt.store.transaction(() => {
    if (!rt.store.watches.end(watch.id, 'failed', reason, now)) return false;
    setTest(rt, watch, 'failed', detail);
    // Never promoted, never rolled back to: `runwarden promote` names this mark (--force lifts it).
    rt.store.revisions.mark(service.key, watch.candidate, 'bad', reason, now);
    return true;
  });
  if (!ended) return;
  rt.metrics.activeWatches.set({ service: service.key }, 0);
  rt.logger.warn({ service: service.key, revision: watch.candidate, detail }, 'candidate failed its tests');
  rt.events.emit('watch:candidate', {
    ...watchEventBase(rt, service, watch, { reason }),
    verdict: 'failed',
    detail,
  });
  rt.events.emit('watch:ended', { ...watchEventBase(rt, service, watch, { reason }), status: 'failed' });
}

function setTest(rt: WatchRuntime, watch: WatchRecord, verdict: TestVerdict, detail: string): ReleaseState {
  const release: ReleaseState = {
    test: { verdict, detail, at: rt.clock() },
    step: watch.release?.step ?? null,
  };
  rt.store.watches.setRelease(watch.id, release);
  return release;
}

/** Runs every smoke check at the candidate's tag URL, with the probes' identity. */
async function runSmoke(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  signal: AbortSignal,
): Promise<SmokeOutcome[] | null> {
  const base = tagUrlOf(observation.traffic, watch.candidate) as string;
  let bearer: string | undefined;
  if (service.config.probe_auth === 'id_token') {
    try {
      if (!rt.idTokens) throw new Error('no ID token source is configured');
      bearer = await rt.idTokens.token(
        {
          audience: service.config.probe_audience ?? observation.uri ?? base,
          impersonate: service.config.probe_service_account,
        },
        signal,
      );
    } catch (error) {
      signal.throwIfAborted();
      rt.logger.warn(
        { service: service.key, err: errorMessage(error) },
        'could not get an ID token for the smoke checks',
      );
      return null;
    }
  }
  return Promise.all(
    service.config.smoke.map(async (check) => {
      const answer = await rt.smoke.check(
        {
          url: new URL(check.path, base).toString(),
          status: check.status,
          bodyContains: check.body_contains,
        },
        service.config.probe_timeout,
        signal,
        bearer,
      );
      return { path: check.path, ok: answer.ok, detail: answer.detail };
    }),
  );
}
