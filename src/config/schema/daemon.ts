import { z } from 'zod';
import { duration, option } from '../types.js';

export const shutdownSchema = z
  .strictObject({
    grace_period: option(duration.prefault('30s'), {
      description:
        'After the first SIGTERM/SIGINT, how long running work (a backup, a rollback) may take to finish before it is aborted.',
    }),
  })
  .prefault({});

export const logSchema = z
  .strictObject({
    level: option(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'), {
      description: 'Lowest level written.',
    }),
    format: option(z.enum(['auto', 'json', 'pretty']).default('auto'), {
      description: 'auto: human-readable on a terminal, JSON lines otherwise.',
    }),
  })
  .prefault({});
