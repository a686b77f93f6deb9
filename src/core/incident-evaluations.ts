import type { IncidentEvaluation, TimelineKind } from './incident-types.js';

/** A timeline entry before formatting: `at` in ms since the epoch. */
export interface RawEntry {
  at: number;
  kind: TimelineKind;
  text: string;
}

/**
 * The timeline lines of a watch's rule evaluations. A watch judges every rule at every tick, so
 * consecutive evaluations of one rule with the same verdict and action read as one line (how many,
 * until when, the range of values); each change of verdict starts a new line. A rollback rule found
 * unhealthy with a rollback taken is the trip; health-probe rules are the probe results.
 */
export function evaluationEntries(evaluations: readonly IncidentEvaluation[]): RawEntry[] {
  const runs: Run[] = [];
  const open = new Map<string, Run>();
  for (const entry of evaluations) {
    const run = open.get(entry.rule);
    if (run && run.first.verdict === entry.verdict && run.first.taken === entry.taken) {
      run.last = entry;
      run.count += 1;
      if (entry.value !== null) {
        run.min = Math.min(run.min ?? entry.value, entry.value);
        run.max = Math.max(run.max ?? entry.value, entry.value);
      }
      continue;
    }
    const next: Run = { first: entry, last: entry, count: 1, min: entry.value, max: entry.value };
    open.set(entry.rule, next);
    runs.push(next);
  }
  return runs.map(describeRun);
}

interface Run {
  first: IncidentEvaluation;
  last: IncidentEvaluation;
  count: number;
  min: number | null;
  max: number | null;
}

function describeRun(run: Run): RawEntry {
  const { first } = run;
  const tripped = first.verdict === 'unhealthy' && (first.taken === 'rollback' || first.taken === 'hold');
  const kind: TimelineKind = tripped ? 'trip' : first.signal === 'health' ? 'probe' : 'evaluation';
  const values =
    run.min === null || run.max === null
      ? 'no value'
      : run.min === run.max
        ? `value ${formatValue(run.min)}`
        : `values ${formatValue(run.min)}..${formatValue(run.max)}`;
  const taken = first.taken === 'none' ? '' : `; action taken: ${first.taken}`;
  const times = run.count > 1 ? ` (${run.count} evaluations until ${iso(run.last.at)})` : '';
  const head = tripped ? `TRIP: rule ${first.rule}` : `rule ${first.rule}`;
  return {
    at: first.at,
    kind,
    text: `${head} (${first.signal}, ${first.action}): ${first.verdict}, ${values} vs threshold ${formatValue(first.threshold)}${times}: ${run.last.detail}${taken}`,
  };
}

/** A measured value as a person reads it: at most 4 decimals, no float noise (0.30000000000000004). */
export function formatValue(value: number): string {
  return String(Number(value.toFixed(4)));
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
