import { z } from 'zod';
import { duration, listenAddress, option } from '../types.js';

export const serverSchema = z
  .strictObject({
    address: option(listenAddress.default('127.0.0.1:9464'), {
      description:
        'Where the HTTP server listens (host:port). Serves /metrics, /healthz, /readyz and the webhooks.',
    }),
    body_limit_bytes: option(
      z
        .number()
        .int()
        .positive()
        .max(16 * 1024 * 1024)
        .default(1024 * 1024),
      {
        description: 'Largest request body accepted; larger bodies get 413.',
      },
    ),
    request_timeout: option(duration.prefault('10s'), {
      description: 'A request that has not been fully received and answered within this time is dropped.',
    }),
  })
  .prefault({});
