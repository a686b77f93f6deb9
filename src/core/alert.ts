/** Where an alert came from; also the first part of its dedupe key. */
export type AlertSource = 'alertmanager' | 'cloud_monitoring';

/**
 * One alert as the receivers see it, whatever sent it. Built from a validated payload; the
 * decisions (matching, dedupe, cooldown) only ever look at this shape.
 */
export interface ReceivedAlert {
  source: AlertSource;
  /** Alertmanager: the alert's fingerprint; Cloud Monitoring: the incident id. */
  fingerprint: string;
  /**
   * What makes two deliveries "the same alert": Alertmanager re-sends a firing alert with the same
   * fingerprint and start time; a later firing of the same rule is a new alert. Cloud Monitoring
   * gives each incident its own id.
   */
  dedupeKey: string;
  status: 'firing' | 'resolved';
  /** The alert rule or policy name, for logs and history. */
  name: string;
  labels: Readonly<Record<string, string>>;
  /** When the alert started firing, ms since the epoch (0 when the sender did not say). */
  startsAt: number;
  summary: string;
}
