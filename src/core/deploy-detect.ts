import {
  type ServiceMemory,
  type ServiceObservation,
  type Snapshot,
  servingOf,
  snapshotOf,
  tagUrlOf,
} from './watch-types.js';

/**
 * Deploy detection: compares a poll with the previous one and says whether a watch starts or ends.
 * Pure; `now` passed in.
 */
export type Detection =
  | { kind: 'first_sight' }
  | { kind: 'unchanged' }
  | { kind: 'changed'; newReady: string | null; started: string[]; stopped: string[] };

export function detect(previous: Snapshot | null, observation: ServiceObservation): Detection {
  if (previous === null) return { kind: 'first_sight' };
  const current = snapshotOf(observation);
  const newReady = current.latestReady !== previous.latestReady ? current.latestReady : null;
  const started = Object.keys(current.serving).filter((revision) => !(revision in previous.serving));
  const stopped = Object.keys(previous.serving).filter((revision) => !(revision in current.serving));
  const shares = Object.keys(current.serving).some(
    (revision) => previous.serving[revision] !== current.serving[revision],
  );
  if (newReady === null && started.length === 0 && stopped.length === 0 && !shares)
    return { kind: 'unchanged' };
  return { kind: 'changed', newReady, started, stopped };
}

export type ObservationStep =
  | { kind: 'none' }
  | {
      kind: 'start_watch';
      candidate: string;
      stable: string | null;
      deadline: number;
      supersedes: number | null;
      /**
       * First sight with no stored history: the revision serving everything is watched like a
       * deploy with no fallback (a trip alerts, nothing is rolled back to) and becomes known good
       * only when it passes. Serving is not proof of health: a watcher restarted with an empty
       * store in the middle of a bad deploy must not adopt the bad revision.
       */
      firstSight?: true;
    }
  | { kind: 'cancel_watch'; watchId: number; reason: string }
  /** Someone sent traffic to a revision runwarden marked bad; it takes no action but says so. */
  | { kind: 'bad_revision_serving'; revision: string };

export interface ObservationPolicy {
  /** How long a candidate is watched before it can be promoted. */
  windowMs: number;
}

/** What one poll means for the service: at most one step (the job records the new snapshot itself). */
export function onObservation(
  memory: ServiceMemory,
  observation: ServiceObservation,
  now: number,
  policy: ObservationPolicy,
): ObservationStep {
  const detection = detect(memory.snapshot, observation);
  if (detection.kind === 'unchanged') return { kind: 'none' };
  if (detection.kind === 'first_sight' && memory.stable === null && memory.watch === null) {
    const sole = soleServing(observation);
    // Split traffic at first sight: which side to watch cannot be told, so nothing is started.
    if (!sole || memory.bad.has(sole)) return { kind: 'none' };
    return {
      kind: 'start_watch',
      candidate: sole,
      stable: null,
      deadline: now + policy.windowMs,
      supersedes: null,
      firstSight: true,
    };
  }
  const candidate = pickCandidate(memory, observation, detection);
  if (candidate !== null && candidate !== memory.watch?.candidate) {
    return {
      kind: 'start_watch',
      candidate,
      stable: memory.stable,
      deadline: now + policy.windowMs,
      supersedes: memory.watch?.id ?? null,
    };
  }
  if (memory.watch && abandoned(memory, observation)) {
    return {
      kind: 'cancel_watch',
      watchId: memory.watch.id,
      reason: `traffic moved away from ${memory.watch.candidate} by someone else`,
    };
  }
  const badServing =
    detection.kind === 'changed' && detection.started.find((revision) => memory.bad.has(revision));
  return badServing ? { kind: 'bad_revision_serving', revision: badServing } : { kind: 'none' };
}

function soleServing(observation: ServiceObservation): string | null {
  const serving = Object.entries(servingOf(observation.traffic));
  return serving.length === 1 && serving[0]?.[1] === 100 ? serving[0][0] : null;
}

/**
 * The revision a change is about: a newly ready revision first (a deploy, even with no traffic),
 * then a revision that started serving. Never the stable one, never a bad one.
 */
function pickCandidate(memory: ServiceMemory, observation: ServiceObservation, detection: Detection) {
  const eligible = (revision: string | null): revision is string =>
    revision !== null && revision !== memory.stable && !memory.bad.has(revision);
  if (detection.kind === 'first_sight') {
    // Known stable (recorded by `runwarden predeploy`) but no snapshot yet: the deploy already happened.
    const serving = Object.keys(servingOf(observation.traffic));
    if (eligible(observation.latestReady)) return observation.latestReady;
    return serving.find(eligible) ?? null;
  }
  if (detection.kind !== 'changed') return null;
  if (eligible(detection.newReady)) return detection.newReady;
  return detection.started.find(eligible) ?? null;
}

/** The candidate served traffic before this poll and now neither serves nor has a tag to probe. */
function abandoned(memory: ServiceMemory, observation: ServiceObservation): boolean {
  const candidate = memory.watch?.candidate as string;
  const before = memory.snapshot?.serving[candidate] ?? 0;
  const now = servingOf(observation.traffic)[candidate] ?? 0;
  return before > 0 && now === 0 && tagUrlOf(observation.traffic, candidate) === undefined;
}
