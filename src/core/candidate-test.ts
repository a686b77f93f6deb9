import { probeAuthFailed } from './probe-auth.js';
import type { HealthSample } from './rules.js';
import type { TrafficTarget } from './rollback-plan.js';
import { servingOf, type TrafficEntry, tagUrlOf } from './watch-types.js';

/**
 * The guide's blue-green flow: a revision deployed with --no-traffic and a tag is a candidate under
 * test, probed at its tag URL until it answers healthy `consecutive` times in a row, then smoke
 * checked; with automatic promotion it then takes traffic in steps. Pure; `now` passed in.
 */

/** How a new revision can be judged: it serves users, it can be reached at its tag URL, or neither. */
export type CandidateReach = 'serving' | 'tagged' | 'unreachable';

export function reachOf(traffic: readonly TrafficEntry[], candidate: string): CandidateReach {
  if ((servingOf(traffic)[candidate] ?? 0) > 0) return 'serving';
  return tagUrlOf(traffic, candidate) ? 'tagged' : 'unreachable';
}

export const UNREACHABLE_DETAIL = 'not reachable for testing: deploy it with --tag';

export type TestVerdict = 'testing' | 'passed' | 'failed' | 'unreachable';

/** What is stored on a watch about its candidate's test and release. Times are ms since the epoch. */
export interface ReleaseState {
  test: { verdict: TestVerdict; detail: string; at: number };
  /** The release step reached by automatic promotion (index into release.steps); null before. */
  step: { index: number; percent: number; startedAt: number } | null;
}

/** One smoke check's answer. */
export interface SmokeOutcome {
  path: string;
  ok: boolean;
  /** e.g. "expected 200, got 500" or "body does not contain \"Sign in\"". */
  detail: string;
}

export interface CandidateTestInput {
  /** Probes of the candidate at its tag URL since its watch started, oldest first. */
  probes: readonly HealthSample[];
  /** Healthy answers in a row needed to pass. */
  consecutive: number;
  /** Failed answers in a row that fail the candidate (the health rule's threshold). */
  failLimit: number;
  /** Smoke checks configured for the service. */
  smokeChecks: number;
  /** Their outcomes once run; null before. */
  smoke: readonly SmokeOutcome[] | null;
  now: number;
  /** The watch's deadline: a candidate that has not passed by then fails. */
  deadline: number;
}

export type CandidateJudgement =
  | { kind: 'testing'; detail: string }
  | { kind: 'run_smoke' }
  | { kind: 'passed'; detail: string }
  | { kind: 'failed'; detail: string };

export function judgeCandidate(input: CandidateTestInput): CandidateJudgement {
  const { healthy, failing, refused } = trailing(input.probes);
  const probesDetail = `${healthy} of ${input.consecutive} healthy answers in a row at its tag URL`;
  if (failing >= input.failLimit)
    return {
      kind: 'failed',
      detail: `${failing} failed probes in a row at its tag URL${lastStatus(input.probes)}`,
    };
  if (healthy >= input.consecutive) {
    if (input.smokeChecks === 0) return { kind: 'passed', detail: probesDetail };
    if (input.smoke === null) return { kind: 'run_smoke' };
    const failed = input.smoke.filter((outcome) => !outcome.ok);
    if (failed.length > 0)
      return {
        kind: 'failed',
        detail: `smoke check${failed.length > 1 ? 's' : ''} failed: ${failed.map((outcome) => `${outcome.path}: ${outcome.detail}`).join('; ')}`,
      };
    return { kind: 'passed', detail: `${probesDetail}; ${input.smoke.length} smoke checks passed` };
  }
  if (input.now >= input.deadline)
    return {
      kind: 'failed',
      detail: `did not answer healthy ${input.consecutive} times in a row at its tag URL within its watch window (${healthy} at the end)`,
    };
  if (refused)
    return { kind: 'testing', detail: "the probe's credentials were refused: it cannot be judged yet" };
  return { kind: 'testing', detail: probesDetail };
}

function trailing(probes: readonly HealthSample[]) {
  let healthy = 0;
  let failing = 0;
  const newest = probes.at(-1);
  // A probe refused for its own credentials says nothing about the candidate: it ends both runs.
  const refused = newest !== undefined && probeAuthFailed(newest);
  for (let index = probes.length - 1; index >= 0; index -= 1) {
    const probe = probes[index] as HealthSample;
    if (probeAuthFailed(probe)) break;
    if (probe.ok && failing === 0) healthy += 1;
    else if (!probe.ok && healthy === 0) failing += 1;
    else break;
  }
  return { healthy, failing, refused };
}

function lastStatus(probes: readonly HealthSample[]): string {
  const last = probes.at(-1);
  if (!last) return '';
  if (last.status !== undefined) return ` (last: ${last.status})`;
  return last.error ? ` (last: ${last.error})` : '';
}

/**
 * The traffic of one release step: `percent` to the candidate, the rest to the stable revision,
 * every tag kept where it points (a tag is how people and probes reach a revision).
 */
export function stepTraffic(
  candidate: string,
  stable: string,
  percent: number,
  current: readonly TrafficEntry[],
): TrafficTarget[] {
  const tagOf = (revision: string) =>
    current.find((entry) => entry.revision === revision && entry.tag && !entry.latest)?.tag;
  const targets: TrafficTarget[] = [{ revision: candidate, percent, tag: tagOf(candidate) }];
  if (percent < 100) targets.push({ revision: stable, percent: 100 - percent, tag: tagOf(stable) });
  const placed = new Set(targets.map((target) => target.tag).filter(Boolean));
  for (const entry of current) {
    if (!entry.tag || placed.has(entry.tag)) continue;
    targets.push({ revision: entry.latest ? null : entry.revision, percent: 0, tag: entry.tag });
  }
  return targets;
}
