import type { Clock } from '../core/clock.js';
import type { RollbackOutcome, RollbackRequest } from '../watch/rollback-request.js';
import type {
  AlertRollbackPort,
  AlertRollbackRequest,
  AlertRollbackResult,
} from '../alerts/rollback-port.js';

/** The deploy watch's rollback entry point, as the composition root binds it to its runtime. */
export type RequestRollback = (request: RollbackRequest, signal: AbortSignal) => Promise<RollbackOutcome>;

/** Longest list of labels put into the one-line reason; the alerts table keeps them all. */
const REASON_LABELS_CHARS = 300;

/**
 * The alert receivers' rollback port over the watch's one rollback path: the trigger is recorded
 * as "alert", with the alert's name, fingerprint and labels in the reason. The decision is dated by
 * `clock`, the watch's own: the rollback's reported duration runs from it.
 */
export function watchRollbackAdapter(requestRollback: RequestRollback, clock: Clock) {
  return {
    async rollback(request: AlertRollbackRequest, signal: AbortSignal): Promise<AlertRollbackResult> {
      const outcome = await requestRollback(
        {
          service: request.service,
          trigger: 'alert',
          reason: `${request.reason} [${labelText(request.alert.labels)}]`,
          rule: request.alert.name,
          dryRun: request.dryRun,
          decidedAt: clock(),
        },
        signal,
      );
      switch (outcome.kind) {
        case 'rolled_back':
          return { kind: 'rolled_back', to: outcome.to, from: outcome.from };
        case 'dry_run':
          return { kind: 'dry_run', to: outcome.to, from: outcome.from };
        case 'noop':
          return { kind: 'noop', to: outcome.to };
        case 'refused':
          return { kind: 'refused', reason: outcome.reason, detail: outcome.detail };
      }
    },
  } satisfies AlertRollbackPort;
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const text = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(', ');
  return text.length > REASON_LABELS_CHARS ? `${text.slice(0, REASON_LABELS_CHARS)}...` : text;
}
