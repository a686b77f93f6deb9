import { Counter, Gauge, type Registry } from 'prom-client';

/** The webhook endpoints, as the `route` label names them. */
export const WEBHOOK_ROUTES = ['alertmanager', 'cloud_monitoring', 'backups'] as const;
export type WebhookRoute = (typeof WEBHOOK_ROUTES)[number];

/** Why a webhook request was refused before anything acted. */
export const REFUSAL_REASONS = [
  'unauthorized',
  'body_too_large',
  'too_deep',
  'bad_request',
  'unknown_service',
  'too_many_requests',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** What became of one received alert. */
export const ALERT_OUTCOMES = [
  'rolled_back',
  'dry_run',
  'already_on_target',
  'refused',
  'cooldown',
  'coalesced',
  'duplicate',
  'resolved',
  'ignored',
  'failed',
] as const;
export type AlertOutcome = (typeof ALERT_OUTCOMES)[number];

export const ALERT_SOURCES = ['alertmanager', 'cloud_monitoring'] as const;

/**
 * Metrics of the webhook receivers. Every label combination is created at zero so `rate()` and
 * alert rules see a series before the first event.
 */
export function createAlertMetrics(registry: Registry) {
  const refusals = new Counter({
    name: 'runwarden_webhook_refusals_total',
    help: 'Webhook requests refused before anything acted, by route and reason.',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const received = new Counter({
    name: 'runwarden_alerts_received_total',
    help: 'Alerts received by the webhook receivers, by source and what became of each.',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const lastReceived = new Gauge({
    name: 'runwarden_alerts_last_received_timestamp_seconds',
    help: 'When the last authenticated, valid alert delivery arrived (Unix seconds), by source.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  for (const route of WEBHOOK_ROUTES)
    for (const reason of REFUSAL_REASONS) refusals.inc({ route, reason }, 0);
  for (const source of ALERT_SOURCES)
    for (const outcome of ALERT_OUTCOMES) received.inc({ source, outcome }, 0);
  return {
    refused(route: WebhookRoute, reason: RefusalReason): void {
      refusals.inc({ route, reason });
    },
    alert(source: (typeof ALERT_SOURCES)[number], outcome: AlertOutcome): void {
      received.inc({ source, outcome });
    },
    delivery(source: (typeof ALERT_SOURCES)[number], at: number): void {
      lastReceived.set({ source }, at / 1000);
    },
  };
}

export type AlertMetrics = ReturnType<typeof createAlertMetrics>;
