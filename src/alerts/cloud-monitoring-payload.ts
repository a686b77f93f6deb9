import { z } from 'zod';
import type { ReceivedAlert } from '../core/alert.js';
import { boundedRecord } from './bounded-schemas.js';

// Cloud Monitoring's webhook notification (schema version 1.2): `{version, incident: {...}}`.
// Only the fields runwarden reads are checked; the rest (documentation, condition, ...) pass through.

const labelSet = boundedRecord(z.string());

/** Cloud Monitoring writes label values as strings, but some (booleans, numbers) arrive unquoted. */
const looseLabelSet = boundedRecord(z.union([z.string(), z.number(), z.boolean()]));

const incidentSchema = z.object({
  incident_id: z.string().min(1).max(256),
  state: z
    .string()
    .transform((text) => text.toLowerCase())
    .pipe(z.enum(['open', 'closed'], { error: 'expected "open" or "closed"' })),
  policy_name: z.string().default(''),
  condition_name: z.string().optional(),
  summary: z.string().default(''),
  // Seconds since the epoch.
  started_at: z.number().nonnegative().nullish(),
  ended_at: z.number().nonnegative().nullish(),
  scoping_project_id: z.string().optional(),
  resource: z.object({ type: z.string().optional(), labels: looseLabelSet.default({}) }).optional(),
  metric: z.object({ type: z.string().optional(), labels: looseLabelSet.default({}) }).optional(),
  metadata: z
    .object({ system_labels: z.record(z.string(), z.unknown()).optional(), user_labels: labelSet.optional() })
    .optional(),
  policy_user_labels: labelSet.default({}),
});

export const cloudMonitoringPayloadSchema = z.object({
  version: z.string().min(1),
  incident: incidentSchema,
});

export type CloudMonitoringPayload = z.output<typeof cloudMonitoringPayloadSchema>;

/**
 * The incident as one alert. Labels are merged from the resource, the metric, the resource's user
 * metadata and the policy's user labels, later ones winning: a person's policy labels say what to do.
 */
export function alertFromCloudMonitoring(payload: CloudMonitoringPayload): ReceivedAlert {
  const incident = payload.incident;
  const labels: Record<string, string> = {};
  for (const source of [
    incident.resource?.labels,
    incident.metric?.labels,
    incident.metadata?.user_labels,
    incident.policy_user_labels,
  ]) {
    for (const [key, value] of Object.entries(source ?? {})) labels[key] = String(value);
  }
  if (incident.scoping_project_id && labels.project_id === undefined)
    labels.project_id = incident.scoping_project_id;
  return {
    source: 'cloud_monitoring',
    fingerprint: incident.incident_id,
    dedupeKey: `cloud_monitoring:${incident.incident_id}`,
    status: incident.state === 'open' ? 'firing' : 'resolved',
    name: incident.policy_name || incident.condition_name || '(unnamed policy)',
    labels,
    startsAt: (incident.started_at ?? 0) * 1000,
    summary: incident.summary,
  };
}
