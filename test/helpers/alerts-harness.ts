import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach } from 'vitest';
import { createAlertEndpoints } from '../../src/app/webhooks.js';
import type {
  AlertRollbackPort,
  AlertRollbackRequest,
  AlertRollbackResult,
} from '../../src/alerts/rollback-port.js';
import { type ConfigInput, configSchema } from '../../src/config/schema.js';
import { WorkTracker } from '../../src/daemon/work.js';
import type { BackupTrigger } from '../../src/http/routes/backups.js';
import { metricsRoute } from '../../src/http/routes/health.js';
import { HttpServer } from '../../src/http/server.js';
import { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createAlertMetrics } from '../../src/telemetry/metrics-alerts.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const USER = 'alerts';
export const PASSWORD = 'test-password-0123456789';
export const BEARER = `Bearer ${TOKEN}`;
export const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/**
 * A rollback port that records what it was asked and answers like the real path would. It is the
 * receivers' own port, not a client library: the real path is exercised by the end-to-end test.
 */
export class RecordingRollback implements AlertRollbackPort {
  readonly calls: AlertRollbackRequest[] = [];
  answer: (request: AlertRollbackRequest) => Promise<AlertRollbackResult> = async (request) => {
    // Yield once so concurrent deliveries really overlap with a running rollback.
    await new Promise((resolve) => setImmediate(resolve));
    return request.dryRun
      ? { kind: 'dry_run', to: 'shop-00001-good', from: ['shop-00002-bad'] }
      : { kind: 'rolled_back', to: 'shop-00001-good', from: ['shop-00002-bad'] };
  };

  rollback(request: AlertRollbackRequest): Promise<AlertRollbackResult> {
    this.calls.push(request);
    return this.answer(request);
  }
}

export interface Harness {
  base: string;
  rollback: RecordingRollback;
  store: Store;
  logLines: () => Array<Record<string, unknown>>;
  metricsText: () => Promise<string>;
  /** Moves the receivers' clock forward (ms). */
  advance: (ms: number) => void;
}

export const SERVICES: ConfigInput['services'] = [
  { name: 'shop', project: 'demo', region: 'europe-west1', service: 'shop', cooldown: '10m' },
  { name: 'api', project: 'demo', region: 'europe-west1', service: 'api', mode: 'dry-run' },
];

/** Starts the real HTTP server on 127.0.0.1:0 with the webhook routes over a real store in `dir`. */
export function useAlertsHarness(): (dir: string, options?: HarnessOptions) => Promise<Harness> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return async (dir, options = {}) => {
    const config = configSchema.parse({
      state_dir: dir,
      services: SERVICES,
      alerts: {
        ...(options.auth ?? { bearer_token: TOKEN, basic_username: USER, basic_password: PASSWORD }),
        ...options.alerts,
      },
      server: options.server ?? {},
    });
    const store = Store.open(dir);
    cleanups.push(() => store.close());
    const lines: string[] = [];
    const logger = createLogger({
      format: 'json',
      level: 'debug',
      destination: new Writable({
        write: (chunk, _encoding, done) => {
          lines.push(String(chunk));
          done();
        },
      }),
    });
    const registry = new Registry();
    const metrics = createAlertMetrics(registry);
    const rollback = new RecordingRollback();
    let offset = 0;
    const { routes } = createAlertEndpoints({
      config,
      store,
      metrics,
      logger,
      work: new WorkTracker(),
      rollback,
      backups: options.backups,
      now: () => Date.now() + offset,
    });
    const server = new HttpServer({
      address: '127.0.0.1:0',
      bodyLimitBytes: options.bodyLimitBytes ?? 256 * 1024,
      requestTimeoutMs: 10_000,
      routes: [...routes, metricsRoute(registry)],
      logger,
      tls: config.server.tls,
      trustProxy: config.server.trust_proxy,
    });
    const address = await server.listen();
    cleanups.push(() => server.close());
    return {
      base: `${server.scheme}://${address}`,
      rollback,
      store,
      logLines: () =>
        lines.flatMap((line) => line.split('\n').filter(Boolean)).map((line) => JSON.parse(line)),
      metricsText: () => registry.metrics(),
      advance: (ms) => {
        offset += ms;
      },
    };
  };
}

export interface HarnessOptions {
  /** Replaces the default credentials (a bearer token and basic auth). */
  auth?: Pick<
    NonNullable<ConfigInput['alerts']>,
    'bearer_token' | 'basic_username' | 'basic_password' | 'cloud_monitoring_token'
  >;
  alerts?: Omit<
    NonNullable<ConfigInput['alerts']>,
    'bearer_token' | 'basic_username' | 'basic_password' | 'cloud_monitoring_token'
  >;
  bodyLimitBytes?: number;
  backups?: BackupTrigger;
  /** The `server` section: `tls` (then `base` is https) and `trust_proxy`. */
  server?: Pick<NonNullable<ConfigInput['server']>, 'tls' | 'trust_proxy'>;
}

/** An Alertmanager v4 delivery of the given alerts. */
export function alertmanagerPayload(
  alerts: Array<{
    labels: Record<string, string>;
    status?: 'firing' | 'resolved';
    fingerprint?: string;
    startsAt?: string;
  }>,
) {
  return {
    version: '4',
    groupKey: '{}:{alertname="RunwardenTest"}',
    truncatedAlerts: 0,
    status: alerts.every((alert) => alert.status === 'resolved') ? 'resolved' : 'firing',
    receiver: 'runwarden',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: alerts.map((alert, index) => ({
      status: alert.status ?? 'firing',
      labels: { alertname: 'HighErrorRate', ...alert.labels },
      annotations: { summary: '5xx above threshold' },
      startsAt: alert.startsAt ?? '2025-01-02T03:04:05.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:9090/graph',
      fingerprint: alert.fingerprint ?? `fp${index.toString(16).padStart(14, '0')}`,
    })),
  };
}

/** A Cloud Monitoring webhook notification (schema 1.2) for one incident. */
export function incidentPayload(options: {
  id: string;
  state?: 'open' | 'closed';
  userLabels?: Record<string, string>;
  resourceLabels?: Record<string, string>;
}) {
  return {
    version: '1.2',
    incident: {
      incident_id: options.id,
      scoping_project_id: 'demo',
      scoping_project_number: 12345,
      url: 'https://console.cloud.google.com/monitoring/alerting/alerts/x',
      started_at: 1_735_787_045,
      ended_at: options.state === 'closed' ? 1_735_787_345 : null,
      state: options.state ?? 'open',
      summary: '5xx requests for shop above the threshold of 5 with a value of 12.',
      apigee_url: '',
      observed_value: '12',
      resource: {
        type: 'cloud_run_revision',
        labels: {
          project_id: 'demo',
          service_name: 'shop',
          revision_name: 'shop-00002-bad',
          location: 'europe-west1',
          configuration_name: 'shop',
          ...options.resourceLabels,
        },
      },
      resource_type_display_name: 'Cloud Run Revision',
      metric: {
        type: 'run.googleapis.com/request_count',
        displayName: 'Request Count',
        labels: { response_code_class: '5xx' },
      },
      metadata: { system_labels: {}, user_labels: {} },
      policy_name: 'shop 5xx',
      policy_user_labels: { runwarden_action: 'rollback', ...options.userLabels },
      documentation: { content: 'roll back', mime_type: 'text/markdown', subject: 'shop 5xx' },
      condition: { name: 'projects/demo/alertPolicies/1/conditions/2', displayName: '5xx > 5' },
      condition_name: '5xx > 5',
      threshold_value: '5',
      severity: 'Critical',
    },
  };
}

export async function post(base: string, path: string, body: unknown, authorization?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** The value of one sample in Prometheus text, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 1, close);
    const found = Object.fromEntries(
      [...labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((match) => [
        match[1],
        match[2],
      ]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value))
      return Number(line.slice(close + 2));
  }
  return undefined;
}
