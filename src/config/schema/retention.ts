import { z } from 'zod';
import { duration, option } from '../types.js';

// Retention rules (restic's keep options), shared by the local archives and their off-site copies.

const keepCount = (period: string) =>
  option(z.number().int().min(-1).default(0), {
    description: `Keep the newest backup of each of the last N ${period}; 0: rule off, -1: unlimited.`,
  });

/** The rules themselves; each place that takes a policy decides what its absence means. */
export const retentionRulesSchema = z.strictObject({
  keep_within: option(duration.prefault('7d'), {
    description:
      'Keep every backup taken within this long of the newest verified backup (not of the wall clock); 0s: rule off.',
  }),
  keep_last: option(z.number().int().min(-1).default(0), {
    description: 'Keep the N newest verified backups; 0: rule off, -1: unlimited.',
  }),
  keep_hourly: keepCount('hours'),
  keep_daily: keepCount('days'),
  keep_weekly: keepCount('weeks'),
  keep_monthly: keepCount('months'),
  keep_yearly: keepCount('years'),
});

/** The local policy: absent means the defaults (keep 7 days). */
export const retentionSchema = retentionRulesSchema.prefault({});

export type RetentionConfig = z.output<typeof retentionRulesSchema>;
