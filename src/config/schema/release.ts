import { z } from 'zod';
import { duration, option } from '../types.js';

// The guide's blue-green flow: a tagged no-traffic revision is tested at its tag URL (smoke checks),
// then, if asked, given traffic in steps, each compared with the stable revision.

const smokeCheckSchema = z.strictObject({
  path: option(z.string().startsWith('/', { error: 'expected a path starting with "/"' }), {
    description: "Path requested (GET) on the candidate's tag URL.",
    example: '/login',
  }),
  status: option(z.number().int().min(100).max(599).default(200), {
    description: 'The status the answer must have.',
  }),
  body_contains: option(z.string().min(1).optional(), {
    description: 'A string the body must contain; unset: the body is not looked at.',
    example: 'Sign in',
  }),
});

const comparisonSchema = z
  .strictObject({
    significance: option(z.number().gt(0).lt(1).default(0.01), {
      description:
        "One-sided significance of the two-proportion test of the candidate's 5xx ratio against stable's.",
    }),
    min_ratio: option(z.number().min(1).default(2), {
      description: "The candidate's 5xx ratio must also be at least this many times stable's to fail.",
    }),
    min_difference: option(z.number().min(0).max(1).default(0.01), {
      description: '...and at least this far above it (a fraction: 0.01 is one percentage point) to fail.',
    }),
    min_requests: option(z.number().int().min(1).default(200), {
      description:
        'Fewer requests than this on either side is insufficient data: the step waits (it never passes on too little).',
    }),
  })
  .prefault({});

export const releaseSchema = z
  .strictObject({
    auto_promote: option(z.boolean().default(false), {
      description:
        'A tagged no-traffic candidate that passes its probes and smoke checks gets traffic by itself, in `steps`; false: a person runs `runwarden promote`.',
    }),
    steps: option(
      z
        .array(z.number().int().min(1).max(100))
        .min(1)
        .default([100])
        .refine((steps) => steps.at(-1) === 100, { error: 'the last step must be 100' })
        .refine((steps) => steps.every((step, index) => index === 0 || step > (steps[index - 1] ?? 0)), {
          error: 'steps must increase, e.g. [10, 50, 100]',
        }),
      {
        description:
          'Percent of traffic the candidate gets at each step, increasing, ending at 100 (e.g. [10, 50, 100]).',
      },
    ),
    step_wait: option(duration.prefault('10m'), {
      description:
        "How long each step lasts before the next: the watch rules and the comparison with stable must pass on the step's own data. At least monitoring.reporting_delay plus the longest rule window.",
    }),
    comparison: option(comparisonSchema, {
      description: "The comparison of the candidate's 5xx ratio with the stable revision's at each step.",
    }),
  })
  .prefault({});

export const smokeSchema = z.array(smokeCheckSchema).default([]);

export type ReleaseConfig = z.output<typeof releaseSchema>;
export type SmokeCheck = z.output<typeof smokeCheckSchema>;
