import type { RuleEvaluation } from './rules.js';

/**
 * The guard's judgement of one evaluation of the serving revision. Pure. Rollback rules that trip
 * ask the one rollback path (which applies the rollback window, the schema gate, freeze and
 * cooldown); alert rules that trip are announced once until they are healthy again.
 */
export interface GuardJudgement {
  /** Rollback rules unhealthy now. */
  trips: RuleEvaluation[];
  /** Alert rules unhealthy now and not announced yet. */
  alerts: RuleEvaluation[];
  /** What stays announced after this evaluation (rules still unhealthy). */
  announced: Set<string>;
}

export function judgeGuard(
  evaluations: readonly RuleEvaluation[],
  announced: ReadonlySet<string>,
): GuardJudgement {
  const unhealthy = evaluations.filter((entry) => entry.verdict === 'unhealthy');
  const trips = unhealthy.filter((entry) => entry.action === 'rollback');
  const alerts = unhealthy.filter((entry) => entry.action === 'alert' && !announced.has(entry.rule));
  // A rule that is healthy (or short of data) again may be announced again when it next trips.
  const still = new Set(unhealthy.filter((entry) => announced.has(entry.rule)).map((entry) => entry.rule));
  for (const alert of alerts) still.add(alert.rule);
  return { trips, alerts, announced: still };
}
