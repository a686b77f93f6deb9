import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ReceivedAlert } from '../core/alert.js';
import { boundedArray, boundedRecord } from './bounded-schemas.js';

// Alertmanager's webhook body, version 4 (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
// Objects are not strict: Alertmanager (and Grafana, which speaks the same format) add fields over time.

const labelSet = boundedRecord(z.string());

const timestamp = z.string().refine((text) => !Number.isNaN(Date.parse(text)), {
  error: 'expected an RFC 3339 time like "2024-01-02T03:04:05Z"',
});

const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  // Alertmanager has sent it since 0.19; computed from the labels when an older sender omits it.
  fingerprint: z.string().min(1).max(128).optional(),
});

export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'expected "4" (Alertmanager webhook payload version 4)' }),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().optional(),
  alerts: boundedArray(alertSchema),
});

export type AlertmanagerPayload = z.output<typeof alertmanagerPayloadSchema>;

/** The payload's alerts in the receivers' shape. */
export function alertsFromAlertmanager(payload: AlertmanagerPayload): ReceivedAlert[] {
  return payload.alerts.map((alert) => {
    const fingerprint = alert.fingerprint ?? labelFingerprint(alert.labels);
    return {
      source: 'alertmanager',
      fingerprint,
      dedupeKey: `alertmanager:${fingerprint}:${new Date(alert.startsAt).toISOString()}`,
      status: alert.status,
      name: alert.labels.alertname ?? '(unnamed)',
      labels: alert.labels,
      startsAt: Date.parse(alert.startsAt),
      summary: alert.annotations.summary ?? alert.annotations.description ?? '',
    };
  });
}

/** A stable id for a label set, independent of key order. */
function labelFingerprint(labels: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
