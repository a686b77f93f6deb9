import { type AlertReceiver, UnknownServiceError } from './alert-receiver.js';
import { alertmanagerPayloadSchema, alertsFromAlertmanager } from './alertmanager-payload.js';
import type { ReceivedAlert } from '../core/alert.js';
import { alertFromCloudMonitoring, cloudMonitoringPayloadSchema } from './cloud-monitoring-payload.js';
import { snakeKeys } from '../core/snake-keys.js';
import type { WebhookRoute } from '../telemetry/metrics-alerts.js';
import { json, type RequestContext, type Route } from '../http/router.js';
import { limited, refuse, vetJson, type WebhookGuard } from '../http/routes/alerts-request.js';

export interface AlertRoutesDeps extends WebhookGuard {
  receiver: AlertReceiver;
}

/**
 * `POST /v1/alerts/alertmanager` (Alertmanager webhook, payload version 4) and
 * `POST /v1/alerts/cloud-monitoring` (Cloud Monitoring webhook incident). Answers 200 with one
 * report per alert; 503 when a rollback failed (the sender retries, and only the failed alert acts
 * again); 401, 413, 400 or 422 when refused, and 503 with Retry-After past
 * `alerts.max_concurrent_requests`, in which cases nothing acted.
 */
export function alertRoutes(deps: AlertRoutesDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/alerts/alertmanager',
      handler: limited(deps, 'alertmanager', async (context) => {
        const vetted = await vetJson(deps, context, 'alertmanager', alertmanagerPayloadSchema);
        if (!vetted.ok) return vetted.response;
        return deliver(
          deps,
          context,
          'alertmanager',
          alertsFromAlertmanager(vetted.value),
          (index, label) => `alerts[${index}].labels.${label}`,
        );
      }),
    },
    {
      method: 'POST',
      path: '/v1/alerts/cloud-monitoring',
      handler: limited(deps, 'cloud_monitoring', async (context) => {
        const vetted = await vetJson(deps, context, 'cloud_monitoring', cloudMonitoringPayloadSchema);
        if (!vetted.ok) return vetted.response;
        return deliver(
          deps,
          context,
          'cloud_monitoring',
          [alertFromCloudMonitoring(vetted.value)],
          (_index, label) => `incident labels.${label}`,
        );
      }),
    },
  ];
}

async function deliver(
  deps: AlertRoutesDeps,
  context: RequestContext,
  route: WebhookRoute,
  alerts: ReceivedAlert[],
  where: (index: number, label: string) => string,
) {
  try {
    const reports = await deps.receiver.receive(alerts);
    const failed = reports.some((report) => report.outcome === 'failed');
    // snake_case keys (`to_revision`), as in every JSON runwarden writes.
    return json(failed ? 503 : 200, snakeKeys({ alerts: reports }));
  } catch (error) {
    if (!(error instanceof UnknownServiceError)) throw error;
    const problems = error.problems.map(
      (problem) => `${where(problem.index, problem.label)}: ${problem.detail}`,
    );
    return refuse(deps, context, route, 'unknown_service', 'an alert names no configured service', problems);
  }
}
