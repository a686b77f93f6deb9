import type { ReceivedAlert } from '../core/alert.js';

/** A watched service as the matcher knows it. */
export interface MatchableService {
  /** Its runwarden name (`name`, or the Cloud Run service name). */
  key: string;
  /** The Cloud Run service name. */
  service: string;
  project: string;
  region: string;
}

export interface MatchRules {
  /** The label naming the service, for this alert's source. */
  serviceLabel: string;
  actionLabel: string;
  actionValue: string;
}

/** What one alert asks for. Pure: the same alert and config always give the same answer. */
export type AlertMatch =
  | { kind: 'act'; service: string }
  /** A resolved alert never acts (the rollback already happened or was never needed). */
  | { kind: 'resolved' }
  /** Not addressed to runwarden: the action label is missing or has another value. */
  | { kind: 'ignored' }
  /** Addressed to runwarden, but naming no configured service (or none at all): the sender's config is wrong. */
  | { kind: 'unknown_service'; label: string; value: string | undefined; detail: string };

export function matchAlert(
  alert: ReceivedAlert,
  rules: MatchRules,
  services: readonly MatchableService[],
): AlertMatch {
  if (alert.status === 'resolved') return { kind: 'resolved' };
  if (alert.labels[rules.actionLabel] !== rules.actionValue) return { kind: 'ignored' };
  const value = alert.labels[rules.serviceLabel];
  const unknown = (detail: string): AlertMatch => ({
    kind: 'unknown_service',
    label: rules.serviceLabel,
    value,
    detail,
  });
  if (value === undefined || value === '')
    return unknown(`the alert asks for a rollback but has no "${rules.serviceLabel}" label`);
  const byKey = services.find((candidate) => candidate.key === value);
  if (byKey) return { kind: 'act', service: byKey.key };
  // The same Cloud Run service name may exist in several projects or regions: narrow by the labels
  // Cloud Monitoring puts on a Cloud Run resource before giving up.
  let byName = services.filter((candidate) => candidate.service === value);
  if (byName.length > 1) {
    const project = alert.labels.project_id;
    const region = alert.labels.location ?? alert.labels.region;
    byName = byName.filter(
      (candidate) =>
        (project === undefined || candidate.project === project) &&
        (region === undefined || candidate.region === region),
    );
    if (byName.length > 1)
      return unknown(
        `"${value}" names several services (${byName.map((candidate) => candidate.key).join(', ')}); use their runwarden names`,
      );
  }
  const [only] = byName;
  if (only) return { kind: 'act', service: only.key };
  const known = services.map((candidate) => candidate.key);
  return unknown(
    `no service named "${value}" is configured (known: ${known.length > 0 ? known.join(', ') : 'none'})`,
  );
}
