import { z } from 'zod';
import { UsageError } from '../core/errors.js';

/**
 * What an emulated revision does with the requests it gets. Shares are fractions 0..1 of the
 * requests other than the health path; they are applied deterministically (every Nth request, not
 * at random), so a test knows exactly how many 5xx a given number of requests yields.
 */
export interface Behaviour {
  /** GET /health answers 200 when true, 503 when false. */
  healthy: boolean;
  /** When set, GET /health answers this status instead (e.g. 403: an app that refuses its callers). */
  healthStatus?: number | undefined;
  /** Share of requests answered 500. */
  errorRate: number;
  /** Share of requests answered 503. */
  unavailableRate: number;
  /** Added to every response, in milliseconds. */
  latencyMs: number;
  /** Container CPU utilization reported to Monitoring, 0..1. */
  cpu: number;
  /** Container memory utilization reported to Monitoring, 0..1. */
  memory: number;
}

export const BEHAVIOUR_PRESETS = {
  healthy: { healthy: true, errorRate: 0, unavailableRate: 0, latencyMs: 0, cpu: 0.2, memory: 0.3 },
  'failing-health': { healthy: false, errorRate: 0, unavailableRate: 0, latencyMs: 0, cpu: 0.2, memory: 0.3 },
  errors: { healthy: true, errorRate: 0.5, unavailableRate: 0, latencyMs: 0, cpu: 0.3, memory: 0.3 },
  unavailable: { healthy: true, errorRate: 0, unavailableRate: 1, latencyMs: 0, cpu: 0.1, memory: 0.3 },
  slow: { healthy: true, errorRate: 0, unavailableRate: 0, latencyMs: 2000, cpu: 0.5, memory: 0.4 },
  hot: { healthy: true, errorRate: 0, unavailableRate: 0, latencyMs: 0, cpu: 0.97, memory: 0.95 },
} as const satisfies Record<string, Behaviour>;

export type BehaviourPreset = keyof typeof BEHAVIOUR_PRESETS;

const share = z.number().min(0).max(1);

/** A behaviour as given by a scenario, the control API or a test: a preset name, or fields over one. */
export const behaviourInputSchema = z.union([
  z.enum(Object.keys(BEHAVIOUR_PRESETS) as [BehaviourPreset, ...BehaviourPreset[]]),
  z.strictObject({
    preset: z.enum(Object.keys(BEHAVIOUR_PRESETS) as [BehaviourPreset, ...BehaviourPreset[]]).optional(),
    healthy: z.boolean().optional(),
    healthStatus: z.number().int().min(200).max(599).optional(),
    errorRate: share.optional(),
    unavailableRate: share.optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    cpu: share.optional(),
    memory: share.optional(),
  }),
]);

export type BehaviourInput = z.input<typeof behaviourInputSchema>;

/** Resolves a preset name or partial object into a full behaviour; UsageError names what was wrong. */
export function resolveBehaviour(input: unknown, what = 'behaviour'): Behaviour {
  const parsed = behaviourInputSchema.safeParse(input ?? 'healthy');
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = [what, ...issue.path].join('.');
      return `${path}: ${issue.message}`;
    });
    throw new UsageError(
      `invalid ${what} (presets: ${Object.keys(BEHAVIOUR_PRESETS).join(', ')}): ${problems.join('; ')}`,
    );
  }
  const value = parsed.data;
  if (typeof value === 'string') return { ...BEHAVIOUR_PRESETS[value] };
  const { preset, ...fields } = value;
  const defined = Object.fromEntries(Object.entries(fields).filter(([, field]) => field !== undefined));
  const behaviour: Behaviour = { ...BEHAVIOUR_PRESETS[preset ?? 'healthy'], ...defined };
  if (behaviour.errorRate + behaviour.unavailableRate > 1 + 1e-9) {
    throw new UsageError(
      `invalid ${what}: errorRate + unavailableRate must be at most 1, got ${behaviour.errorRate} + ${behaviour.unavailableRate}`,
    );
  }
  return behaviour;
}

/**
 * Picks the status of each non-health request. Error diffusion instead of random draws: one
 * accumulator decides whether a request fails (at errorRate + unavailableRate), a second one which
 * failure it gets, so over 100 requests errorRate 0.25 and unavailableRate 0.1 give exactly 25 x 500
 * and 10 x 503.
 */
export class OutcomePicker {
  #failing = 0;
  #which = 0;

  next(behaviour: Behaviour): 200 | 500 | 503 {
    const failureRate = Math.min(1, behaviour.errorRate + behaviour.unavailableRate);
    this.#failing += failureRate;
    if (this.#failing < 1 - 1e-9) return 200;
    this.#failing -= 1;
    this.#which += behaviour.unavailableRate / failureRate;
    if (this.#which >= 1 - 1e-9) {
      this.#which -= 1;
      return 503;
    }
    return 500;
  }
}
