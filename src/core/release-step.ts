import type { RuleEvaluation, TimeWindow } from './rules.js';
import type { Comparison } from './stable-comparison.js';

/**
 * A release step's comparison with stable, as one more rollback rule of the step: stored, shown
 * and acted on (through the one rollback path) like the watch's own rules. Pure.
 */
export const COMPARISON_RULE = 'stable_comparison';

export function comparisonEvaluation(
  comparison: Comparison,
  window: TimeWindow,
  query: string,
): RuleEvaluation {
  return {
    rule: COMPARISON_RULE,
    signal: 'requests',
    action: 'rollback',
    window,
    query,
    raw: {
      candidate: comparison.candidate,
      stable: comparison.stable,
      z: comparison.z,
      p: comparison.p,
    },
    value: comparison.candidate.ratio,
    // The stable ratio the candidate is held against (the test's own bar is in `detail`).
    threshold: comparison.stable.ratio ?? 0,
    verdict: comparison.verdict,
    detail: comparison.detail,
  };
}

/**
 * The window a step's comparison looks at: from the first complete bucket of the step to the
 * newest reported one. Null while it is empty.
 */
export function stepWindow(
  stepStartedAt: number,
  now: number,
  options: { alignmentMs: number; reportingDelayMs: number },
): TimeWindow | null {
  const start = Math.ceil(stepStartedAt / options.alignmentMs) * options.alignmentMs;
  const end = Math.floor((now - options.reportingDelayMs) / options.alignmentMs) * options.alignmentMs;
  return end > start ? { start, end } : null;
}
