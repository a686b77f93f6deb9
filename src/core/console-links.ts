import type { IncidentLinks, ServiceLocation } from './incident-types.js';

/** The Cloud Console page of a Cloud Run service's revisions. */
export function revisionsUrl(location: ServiceLocation): string {
  return `https://console.cloud.google.com/run/detail/${encodeURIComponent(location.region)}/${encodeURIComponent(location.cloudRunService)}/revisions?project=${encodeURIComponent(location.project)}`;
}

/** The Cloud Logging query for a revision's errors (severity ERROR and above). */
export function revisionErrorsQuery(location: ServiceLocation, revision: string): string {
  return [
    'resource.type="cloud_run_revision"',
    `resource.labels.service_name="${location.cloudRunService}"`,
    `resource.labels.revision_name="${revision}"`,
    'severity>=ERROR',
  ].join('\n');
}

/**
 * The Logs Explorer URL running `query` over `from`..`to` (ms). The query and the time range are
 * path parameters (`;query=...;timeRange=START/END`), each percent-encoded.
 */
export function logsExplorerUrl(project: string, query: string, from: number, to: number): string {
  const range = `${new Date(from).toISOString()}/${new Date(to).toISOString()}`;
  return `https://console.cloud.google.com/logs/query;query=${encodeURIComponent(query)};timeRange=${encodeURIComponent(range)}?project=${encodeURIComponent(project)}`;
}

/** The links of an incident: the revisions page, and the bad revision's errors over the incident. */
export function incidentLinks(
  location: ServiceLocation,
  badRevision: string | null,
  from: number,
  to: number,
): IncidentLinks {
  const logQuery = badRevision === null ? null : revisionErrorsQuery(location, badRevision);
  return {
    revisions: revisionsUrl(location),
    logQuery,
    logs: logQuery === null ? null : logsExplorerUrl(location.project, logQuery, from, to),
  };
}
