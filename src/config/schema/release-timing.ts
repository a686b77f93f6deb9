import { formatDuration } from '../../core/duration.js';

interface TimedService {
  rules: ReadonlyArray<{ signal: string; window: number }>;
  release: { auto_promote: boolean; step_wait: number };
}

/**
 * A release step shorter than the metrics' reporting delay plus the longest rule window could only
 * ever yield insufficient data: no complete, reported window of the step's own traffic exists when
 * it ends. Returns the problem (path under the service, message), or undefined.
 */
export function stepWaitProblem(
  service: TimedService,
  reportingDelayMs: number,
): { path: string[]; message: string } | undefined {
  if (!service.release.auto_promote) return undefined;
  // The health rule looks at probes, not a metric window.
  const windows = service.rules.filter((rule) => rule.signal !== 'health').map((rule) => rule.window);
  const longest = Math.max(0, ...windows);
  const needed = reportingDelayMs + longest;
  if (service.release.step_wait >= needed) return undefined;
  return {
    path: ['release', 'step_wait'],
    message: `${formatDuration(service.release.step_wait)} is shorter than monitoring.reporting_delay (${formatDuration(reportingDelayMs)}) plus the longest rule window (${formatDuration(longest)}): a step would only ever see insufficient data; use at least ${formatDuration(needed)}`,
  };
}
