import type { RestorePoint } from './restore-point.js';

/**
 * What the store holds about one incident (a watch, or a rollback outside any watch), as plain data:
 * the loader reads it, `buildIncidentReport` turns it into a report. Times are ms since the epoch,
 * except restores' (ISO-8601 UTC, as the restores table keeps them).
 */
export interface IncidentFacts {
  service: string;
  /** Where the service runs, for console links; null when it is not configured any more. */
  location: ServiceLocation | null;
  watch: IncidentWatch | null;
  /** The audit history of the incident (the watch's entries, or the rollback's), oldest first. */
  history: IncidentHistoryEntry[];
  /** Every rule evaluation of the watch, oldest first (none without a watch). */
  evaluations: IncidentEvaluation[];
  /** Restores started during the incident or after it, until the service's next watch. */
  restores: IncidentRestore[];
}

export interface ServiceLocation {
  project: string;
  region: string;
  /** The Cloud Run service's name (may differ from runwarden's name for it). */
  cloudRunService: string;
}

export interface IncidentWatch {
  id: number;
  candidate: string;
  stable: string | null;
  startedAt: number;
  deadline: number;
  status: string;
  endedAt: number | null;
  endReason: string | null;
  dryRun: boolean;
  restorePoint: RestorePoint | null;
}

export interface IncidentHistoryEntry {
  id: number;
  at: number;
  /** The event name: `watch:started`, `rollback:completed`... */
  kind: string;
  revision: string | null;
  message: string;
  /** The event's payload as recorded. */
  detail: unknown;
}

export interface IncidentEvaluation {
  id: number;
  at: number;
  rule: string;
  signal: string;
  /** The rule's action: rollback or alert. */
  action: string;
  value: number | null;
  threshold: number;
  verdict: string;
  /** What the tick did: none, rollback, alert, hold, promote, end. */
  taken: string;
  detail: string;
}

export interface IncidentRestore {
  id: number;
  startedAt: string;
  finishedAt: string | null;
  archive: string;
  kind: string;
  name: string;
  result: string;
  error: string | null;
}

export type TimelineKind =
  | 'deploy_seen'
  | 'probe'
  | 'evaluation'
  | 'trip'
  | 'alert'
  | 'held'
  | 'failure'
  | 'insufficient_data'
  | 'rollback_sent'
  | 'rollback_confirmed'
  | 'rollback_unconfirmed'
  | 'rollback_failed'
  | 'rollback_refused'
  | 'health_after'
  | 'promoted'
  | 'watch_ended'
  | 'restore';

export interface TimelineEntry {
  /** ISO-8601 UTC. */
  at: string;
  /** Time since the incident began, e.g. "+1m5s"; "+0s" for its first entry. */
  offset: string;
  kind: TimelineKind;
  text: string;
}

/** One rule over the whole watch: how often it was judged and its worst value against its threshold. */
export interface RuleSummary {
  rule: string;
  signal: string;
  action: string;
  threshold: number;
  evaluations: number;
  unhealthy: number;
  /** The highest value seen; null when none was measured. */
  worst: number | null;
}

export interface IncidentReport {
  /** One line: service, revisions and outcome. */
  title: string;
  service: string;
  watchId: number | null;
  /** History ids of the rollback entries (`runwarden report --rollback ID` takes any of them). */
  rollbackIds: number[];
  candidate: string | null;
  stable: string | null;
  /** The watch's status (promoted, rolled_back...), or the rollback's outcome outside a watch. */
  outcome: string;
  startedAt: string | null;
  endedAt: string | null;
  timeline: TimelineEntry[];
  rules: RuleSummary[];
  restorePoint: IncidentRestorePoint | null;
  links: IncidentLinks | null;
  /** The guide's three questions, left for a person to answer. */
  questions: { cause: string; resolution: string; prevention: string };
}

export interface IncidentRestorePoint {
  source: string;
  backup: string | null;
  takenAt: string | null;
  note: string | null;
  /** From the rollback's report: null when unknown (no rollback, or a fingerprint missing). */
  schemaChanged: boolean | null;
  schemaDetail: string | null;
}

export interface IncidentLinks {
  /** The Cloud Console page listing the service's revisions. */
  revisions: string;
  /** The Cloud Logging query for the bad revision's errors, and its Logs Explorer URL. */
  logQuery: string | null;
  logs: string | null;
}
