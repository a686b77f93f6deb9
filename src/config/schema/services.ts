import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { duration, option } from '../types.js';
import { releaseSchema, smokeSchema } from './release.js';

// The Cloud Run services the deploy watch watches, their probes and rules.

const ruleSchema = z
  .strictObject({
    name: option(
      z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { error: 'expected lowercase letters, digits, - and _' }),
      {
        description: 'Name of the rule, shown in history, events and metrics.',
        example: 'http_5xx',
      },
    ),
    signal: option(z.enum(['requests', 'health', 'cpu', 'memory', 'latency']), {
      description:
        'requests: Cloud Monitoring request_count of the candidate revision; health: the /health probe; cpu and memory: utilization percentiles; latency: a percentile of request_latencies.',
      example: 'requests',
    }),
    response_code_class: option(z.enum(['1xx', '2xx', '3xx', '4xx', '5xx']).optional(), {
      description: 'requests: count only responses of this class.',
      example: '5xx',
    }),
    response_code: option(
      z
        .string()
        .regex(/^[1-5]\d\d$/, { error: 'expected an HTTP status code like "503"' })
        .optional(),
      {
        description: 'requests: count only responses with this status code (quote it in YAML).',
        example: '503',
      },
    ),
    measure: option(z.enum(['count', 'ratio']).default('count'), {
      description:
        'requests: count trips when matching requests > threshold; ratio when matching / all requests > threshold (0..1).',
    }),
    // Kept as written (a number, or a duration's text for latency) so `config print` gives it back.
    threshold: option(z.union([z.number().nonnegative(), z.string()]), {
      description:
        'requests: a count, or a ratio 0..1; health: failures in a row (trips when reached); cpu/memory: utilization 0..1; latency: a duration like "800ms" (trips when the percentile is above it).',
    }),
    window: option(duration.prefault('5m'), {
      description:
        'requests, cpu, memory, latency: the window of complete reported minutes looked at. Ignored by health.',
    }),
    min_requests: option(z.number().int().nonnegative().optional(), {
      description:
        'ratio and latency: with fewer requests in the window the verdict is insufficient data. Unset: 20 for a ratio; for latency enough that five requests lie above the percentile (p50: 10, p95: 100, p99: 500).',
    }),
    percentile: option(z.union([z.literal(50), z.literal(95), z.literal(99)]).default(99), {
      description:
        'cpu, memory: which percentile of the utilization distribution; latency: of the request latencies (50, 95 or 99).',
    }),
    action: option(z.enum(['rollback', 'alert']).default('rollback'), {
      description: 'What a trip does: roll back to the last good revision, or only alert.',
    }),
  })
  .superRefine((rule, context) => {
    const problem = ruleProblem(rule);
    if (problem) context.addIssue({ code: 'custom', path: [problem.key], message: problem.message });
  });

function ruleProblem(rule: z.output<typeof ruleSchema>): { key: string; message: string } | undefined {
  const requestOnly = rule.response_code_class ?? rule.response_code;
  if (rule.signal !== 'requests' && requestOnly !== undefined)
    return {
      key: 'signal',
      message: 'response_code and response_code_class apply only to signal "requests"',
    };
  if (rule.signal === 'requests' && rule.response_code && rule.response_code_class)
    return { key: 'response_code', message: 'give response_code or response_code_class, not both' };
  if (rule.signal === 'latency') {
    if (typeof rule.threshold !== 'string' || parseDuration(rule.threshold) === undefined)
      return {
        key: 'threshold',
        message: `latency: expected a duration like "800ms" or "2s", got ${JSON.stringify(rule.threshold)}`,
      };
    if (rule.window <= 0) return { key: 'window', message: 'expected a window longer than 0s' };
    return undefined;
  }
  if (typeof rule.threshold === 'string')
    return {
      key: 'threshold',
      message: `${rule.signal}: expected a number, got ${JSON.stringify(rule.threshold)} (a duration is for signal "latency" only)`,
    };
  if (rule.signal === 'health' && (!Number.isInteger(rule.threshold) || rule.threshold < 1))
    return { key: 'threshold', message: 'health: expected a whole number of failures in a row, at least 1' };
  const ratioLike = rule.signal === 'cpu' || rule.signal === 'memory' || rule.measure === 'ratio';
  if (ratioLike && rule.signal !== 'health' && rule.threshold > 1)
    return {
      key: 'threshold',
      message: `expected a fraction from 0 to 1 (0.9 is 90 %), got ${rule.threshold}`,
    };
  if (rule.signal !== 'health' && rule.window <= 0)
    return { key: 'window', message: 'expected a window longer than 0s' };
  return undefined;
}

/** The guide's rules: 5xx > 5 in 5 min and 503 > 1 in 1 min and /health failing roll back; CPU and memory alert. */
export const DEFAULT_RULES: z.input<typeof ruleSchema>[] = [
  { name: 'http_5xx', signal: 'requests', response_code_class: '5xx', threshold: 5, window: '5m' },
  { name: 'http_503', signal: 'requests', response_code: '503', threshold: 1, window: '1m' },
  { name: 'health', signal: 'health', threshold: 3 },
  { name: 'cpu', signal: 'cpu', threshold: 0.9, window: '5m', action: 'alert' },
  { name: 'memory', signal: 'memory', threshold: 0.9, window: '5m', action: 'alert' },
];

const guardSchema = z.strictObject({
  rules: option(z.array(ruleSchema).prefault(DEFAULT_RULES), {
    description:
      "Rules judged on the serving revision after its promotion, for as long as it serves; giving this list replaces the guide's defaults (the same as the watch's).",
  }),
  interval: option(duration.prefault('1m'), {
    description: 'How often the guard evaluates its rules on the serving revision (slower than the watch).',
  }),
  rollback_window: option(duration.prefault('24h'), {
    description:
      'For this long after a promotion, a guard rollback rule trip or an alert asking for a rollback sends traffic back to the previous known good revision; after it, they only alert (an old revision is no longer a safe target). A revision traffic was rolled back to opens no window.',
  }),
  on_schema_change: option(z.enum(['rollback', 'alert']).default('alert'), {
    description:
      "When the database schema changed since the rollback target last served: alert (name the change and the commands: roll back and restore, or fix forward) or rollback anyway. The guard's default is alert: hours after a deploy, old code on a migrated database can do more harm.",
  }),
});

const nameRule = z.string().regex(/^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/, {
  error: 'expected a Cloud Run service name: lowercase letters, digits and -, starting with a letter',
});

const serviceSchema = z
  .strictObject({
    name: option(
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]*$/)
        .optional(),
      {
        description: 'Name used by the CLI (--service), history and metrics; defaults to `service`.',
        example: 'shop',
      },
    ),
    project: option(z.string().min(1), { description: 'Google Cloud project id.', example: 'my-project' }),
    region: option(
      z.string().regex(/^[a-z]+-[a-z]+\d+$/, { error: 'expected a region like "europe-west1"' }),
      {
        description: 'Cloud Run region.',
        example: 'europe-west1',
      },
    ),
    service: option(nameRule, { description: 'Cloud Run service name.', example: 'shop' }),
    health_path: option(
      z.string().startsWith('/', { error: 'expected a path starting with "/"' }).default('/health'),
      {
        description: 'Path probed on the service URL and on the candidate tag URL; any 2xx is healthy.',
      },
    ),
    probe_interval: option(duration.prefault('10s'), { description: 'Time between health probes.' }),
    probe_timeout: option(duration.prefault('5s'), {
      description: 'A probe with no answer within this fails.',
    }),
    probe_consecutive: option(z.number().int().min(1).max(100).default(3), {
      description:
        'A tagged no-traffic candidate passes its probes after this many healthy answers in a row at its tag URL (so a crash-looping revision cannot pass on one lucky answer).',
    }),
    smoke: option(smokeSchema, {
      description:
        'Smoke checks of a tagged no-traffic candidate, run at its tag URL once its probes passed (the guide\'s "test login and the main features"); each must answer as expected for it to pass.',
    }),
    release: option(releaseSchema, {
      description:
        'What follows a passed candidate: auto_promote (traffic in steps, each compared with the stable revision) or a person promoting it.',
    }),
    poll_interval: option(duration.prefault('15s'), {
      description: 'How often Cloud Run is polled for new revisions and the rules are evaluated.',
    }),
    watch_window: option(duration.prefault('30m'), {
      description:
        'How long a new revision is watched; passing clean, it becomes the last known good revision.',
    }),
    mode: option(z.enum(['enforce', 'dry-run']).default('enforce'), {
      description: 'dry-run: evaluate, record and announce what would be done, but never change traffic.',
    }),
    insufficient_data: option(z.enum(['keep_waiting', 'alert', 'rollback_at_deadline']).default('alert'), {
      description:
        'When rollback rules still lack data at the deadline: keep_waiting (watch on until they have it), alert (end the watch unpromoted and tell a person) or rollback_at_deadline.',
    }),
    on_schema_change: option(z.enum(['rollback', 'alert']).default('rollback'), {
      description:
        "The watch's rollbacks when the database schema changed since the stable revision served: rollback (go ahead, and say so loudly in the log and the rollback's restore point) or alert (do not move traffic; name the change and the commands). The guard has its own, guard.on_schema_change.",
    }),
    guard: option(guardSchema.prefault({}), {
      description:
        'The guard on the serving revision after its promotion: rules, interval, rollback_window, on_schema_change.',
    }),
    cooldown: option(duration.prefault('10m'), {
      description:
        'After an automatic rollback, further automatic rollbacks of this service are refused (and announced) for this long, unless a newer deploy is being watched.',
    }),
    pre_deploy_backup: option(z.boolean().default(true), {
      description:
        'Take a backup (or reuse one from `runwarden predeploy`) when a watch starts; rollback events name it as the restore point.',
    }),
    predeploy_reuse_within: option(duration.prefault('2h'), {
      description:
        'A `runwarden predeploy` backup this recent is used as the restore point instead of a new one.',
    }),
    notify: option(z.array(z.string().min(1)).default([]), {
      description: 'Names of notify targets for this service; empty: every target.',
    }),
    rules: option(z.array(ruleSchema).prefault(DEFAULT_RULES), {
      description: "Rules judged on the candidate revision; giving this list replaces the guide's defaults.",
    }),
    probe_auth: option(z.enum(['none', 'id_token']).default('none'), {
      description:
        'none: probes carry no identity (a public service). id_token: each probe carries a Google-signed ID token (Application Default Credentials: the metadata server on Google Cloud, or a service-account key), for a service that requires authentication; the identity needs roles/run.invoker on the service.',
    }),
    probe_audience: option(
      z
        .url({
          protocol: /^https?$/,
          error: 'expected an absolute http(s) URL like "https://shop-abc123-ew.a.run.app"',
        })
        .optional(),
      {
        description:
          "id_token only: the ID token's audience; unset: the service's main URL as Cloud Run reports it (also used for probes of tag URLs).",
        example: 'https://shop-abc123-ew.a.run.app',
      },
    ),
    probe_service_account: option(
      z
        .string()
        .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, {
          error: 'expected a service account email like "probe@my-project.iam.gserviceaccount.com"',
        })
        .optional(),
      {
        description:
          "id_token only: impersonate this service account to mint the token (the credentials need roles/iam.serviceAccountTokenCreator on it); unset: the credentials' own identity.",
        example: 'probe@my-project.iam.gserviceaccount.com',
      },
    ),
  })
  .superRefine((service, context) => {
    if (service.probe_auth === 'id_token') return;
    for (const key of ['probe_audience', 'probe_service_account'] as const) {
      if (service[key] !== undefined)
        context.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} applies only with probe_auth: id_token`,
        });
    }
  });

export const servicesSchema = z.array(serviceSchema).default([]).superRefine(checkUnique);

function checkUnique(services: z.output<typeof serviceSchema>[], context: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  services.forEach((entry, index) => {
    const key = entry.name ?? entry.service;
    const first = seen.get(key);
    if (first !== undefined)
      context.addIssue({
        code: 'custom',
        path: [index, 'name'],
        message: `duplicate name "${key}" (also item ${first})`,
      });
    else seen.set(key, index);
    duplicateRules(entry.rules, [index, 'rules'], context);
    duplicateRules(entry.guard.rules, [index, 'guard', 'rules'], context);
  });
}

function duplicateRules(
  rules: ReadonlyArray<{ name: string }>,
  path: Array<string | number>,
  context: z.RefinementCtx,
): void {
  const names = rules.map((rule) => rule.name);
  names.forEach((name, ruleIndex) => {
    if (names.indexOf(name) !== ruleIndex)
      context.addIssue({
        code: 'custom',
        path: [...path, ruleIndex, 'name'],
        message: `duplicate rule "${name}"`,
      });
  });
}

export type ServiceConfig = z.output<typeof serviceSchema>;
export type RuleConfig = z.output<typeof ruleSchema>;

/** The name a service goes by in the CLI, the store and metrics. */
export function serviceKey(service: Pick<ServiceConfig, 'name' | 'service'>): string {
  return service.name ?? service.service;
}
