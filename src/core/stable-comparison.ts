/**
 * The comparison of a release step: is the candidate's 5xx ratio worse than the stable revision's
 * serving the rest of the traffic, beyond chance? A one-sided two-proportion z-test (pooled), plus
 * two effect-size floors so that a statistically significant but harmless difference (0.1 % vs
 * 0.05 % over a million requests) never rolls back. Pure.
 */

/** Requests of one revision over the compared window. */
export interface ErrorCounts {
  /** 5xx answers. */
  errors: number;
  /** All answers. */
  total: number;
}

export interface ComparisonPolicy {
  /** One-sided significance level: the candidate is worse when p < this. */
  significance: number;
  /** The candidate's ratio must be at least this many times stable's. */
  minRatio: number;
  /** ...and at least this much above it (a fraction: 0.01 is one percentage point). */
  minDifference: number;
  /** Fewer requests than this on either side is insufficient data (never a pass). */
  minRequests: number;
}

/** The README's defaults; see "Rules" there for why. */
export const DEFAULT_COMPARISON: ComparisonPolicy = {
  significance: 0.01,
  minRatio: 2,
  minDifference: 0.01,
  minRequests: 200,
};

export interface Comparison {
  verdict: 'healthy' | 'unhealthy' | 'insufficient_data';
  candidate: ErrorCounts & { ratio: number | null };
  stable: ErrorCounts & { ratio: number | null };
  /** The z statistic (candidate minus stable); null with too few requests. */
  z: number | null;
  /** One-sided p-value that the candidate's ratio is no higher than stable's; null with too few requests. */
  p: number | null;
  /** One line a person reads. */
  detail: string;
}

export function compareWithStable(
  candidate: ErrorCounts,
  stable: ErrorCounts,
  policy: ComparisonPolicy = DEFAULT_COMPARISON,
): Comparison {
  for (const [name, counts] of [
    ['candidate', candidate],
    ['stable', stable],
  ] as const) {
    if (!validCounts(counts))
      throw new RangeError(`${name} counts must be whole numbers with 0 <= errors <= total`);
  }
  const pc = ratioOf(candidate);
  const ps = ratioOf(stable);
  const sides = { candidate: { ...candidate, ratio: pc }, stable: { ...stable, ratio: ps } };
  if (candidate.total < policy.minRequests || stable.total < policy.minRequests)
    return {
      verdict: 'insufficient_data',
      ...sides,
      z: null,
      p: null,
      detail: `too few requests to compare (candidate ${candidate.total}, stable ${stable.total}; at least ${policy.minRequests} each)`,
    };
  const candidateRatio = pc as number;
  const stableRatio = ps as number;
  const pooled = (candidate.errors + stable.errors) / (candidate.total + stable.total);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / candidate.total + 1 / stable.total));
  // Both sides all errors or both without any: no difference to test.
  const z = se === 0 ? 0 : (candidateRatio - stableRatio) / se;
  const p = 1 - normalCdf(z);
  const text = `5xx ${percent(candidateRatio)} of ${candidate.total} on the candidate vs ${percent(stableRatio)} of ${stable.total} on stable (one-sided p=${formatP(p)})`;
  const worse =
    p < policy.significance &&
    candidateRatio >= policy.minRatio * stableRatio &&
    candidateRatio - stableRatio >= policy.minDifference;
  return {
    verdict: worse ? 'unhealthy' : 'healthy',
    ...sides,
    z,
    p,
    detail: worse
      ? `${text}: worse than stable (p < ${policy.significance}, >= ${policy.minRatio}x and >= ${percent(policy.minDifference)} above)`
      : `${text}: not worse than stable by the test`,
  };
}

/** 5xx and all requests in `buckets` that lie within [start, end). */
export function countErrors(
  buckets: ReadonlyArray<{ start: number; end: number; responseCodeClass: string; count: number }>,
  window: { start: number; end: number },
): ErrorCounts {
  let errors = 0;
  let total = 0;
  for (const bucket of buckets) {
    if (bucket.start < window.start || bucket.end > window.end) continue;
    total += bucket.count;
    if (bucket.responseCodeClass === '5xx') errors += bucket.count;
  }
  return { errors, total };
}

/** Standard normal CDF through erf (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

function validCounts(counts: ErrorCounts): boolean {
  return (
    Number.isInteger(counts.errors) &&
    Number.isInteger(counts.total) &&
    counts.errors >= 0 &&
    counts.errors <= counts.total
  );
}

function ratioOf(counts: ErrorCounts): number | null {
  return counts.total === 0 ? null : counts.errors / counts.total;
}

function percent(value: number): string {
  return `${Math.round(value * 1000) / 10}%`;
}

function formatP(p: number): string {
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}
