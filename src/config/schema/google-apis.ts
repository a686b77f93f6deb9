import { z } from 'zod';
import { describeValue, duration, option } from '../types.js';

// Where the deploy watch reaches the Cloud Run and Cloud Monitoring APIs.

const endpoint = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
  error: (issue) => `expected an endpoint like "127.0.0.1:8085", got ${describeValue(issue.input)}`,
});

const endpointOption = (api: string) =>
  option(endpoint.optional(), {
    description: `host:port of the ${api} API; unset: Google's endpoint. Set it (e.g. "127.0.0.1:8085") to talk to the local emulator.`,
  });

const insecureOption = option(z.boolean().default(false), {
  description: 'Plain-text gRPC without credentials, for the local emulator only.',
});

export const cloudRunSchema = z
  .strictObject({
    endpoint: endpointOption('Cloud Run Admin (v2)'),
    insecure: insecureOption,
    call_timeout: option(duration.prefault('15s'), { description: 'Longest a single API call may take.' }),
    retry_deadline: option(duration.prefault('60s'), {
      description: 'Transient API failures are retried with backoff until this much time has passed.',
    }),
    operation_timeout: option(duration.prefault('5m'), {
      description: 'Longest a traffic update operation is waited for before the action counts as failed.',
    }),
  })
  .prefault({});

export const monitoringSchema = z
  .strictObject({
    endpoint: endpointOption('Cloud Monitoring (v3)'),
    insecure: insecureOption,
    alignment_period: option(duration.prefault('60s'), {
      description: 'Bucket size of metric series; Cloud Run samples its metrics every 60 s.',
    }),
    reporting_delay: option(duration.prefault('3m'), {
      description:
        'How long a minute of metrics takes to be fully reported; younger minutes are not evaluated (missing data is not a zero).',
    }),
  })
  .prefault({});

export type CloudRunConfig = z.output<typeof cloudRunSchema>;
export type MonitoringConfig = z.output<typeof monitoringSchema>;

/** Where probes get their ID tokens (services with probe_auth: id_token). */
export const idTokensSchema = z
  .strictObject({
    iam_endpoint: option(
      z
        .url({ protocol: /^https?$/, error: 'expected a URL like "https://iamcredentials.googleapis.com"' })
        .optional(),
      {
        description:
          "Base URL of the IAM Credentials API, used to impersonate a service's probe_service_account; unset: Google's endpoint. Set it to the local emulator's URL for tests.",
      },
    ),
    timeout: option(duration.prefault('10s'), {
      description:
        'Longest fetching one ID token may take (metadata server, key exchange or impersonation); past it the probe counts as auth_failed.',
    }),
  })
  .prefault({});

export type IdTokensConfig = z.output<typeof idTokensSchema>;
