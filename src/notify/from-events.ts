import type { EventBus } from '../events/event-bus.js';
import type { RollbackEventBase, WatchEventBase } from '../events/watch-events.js';
import type { NotificationDispatcher } from './dispatcher.js';
import type { Notification } from './notification.js';

/** The notify targets a service asked for; undefined or empty means every target. */
export type TargetsFor = (service: string) => readonly string[] | undefined;

/** Looks a service up by its runwarden name (config `name`, else its Cloud Run name). */
export function targetsFromConfig(
  services: ReadonlyArray<{ name?: string | undefined; service: string; notify: readonly string[] }>,
): TargetsFor {
  return (service) => services.find((watched) => (watched.name ?? watched.service) === service)?.notify;
}

/**
 * The history id of a rollback event's entry (`runwarden report --rollback ID`), if it was recorded.
 * The history is written before notifications are built (EventBus.onFirst).
 */
export type RollbackIdOf = (
  kind: 'rollback:completed' | 'rollback:failed',
  event: WatchEventBase,
) => number | undefined;

/**
 * Turns the daemon's events into notifications. Subscribing (rather than having jobs call the
 * notifier) keeps every job free of notification concerns and makes delivery failures harmless.
 * Returns a function that unsubscribes everything.
 */
export function notifyOnEvents(
  events: EventBus,
  dispatcher: NotificationDispatcher,
  targetsFor: TargetsFor = () => undefined,
  rollbackIdOf: RollbackIdOf = () => undefined,
): () => void {
  const report = (kind: Parameters<RollbackIdOf>[0], event: WatchEventBase) =>
    reportLine(event, () => rollbackIdOf(kind, event));
  const send = (notification: Notification) => {
    const only = notification.service ? targetsFor(notification.service) : undefined;
    dispatcher.notify(notification, only && only.length > 0 ? only : undefined);
  };
  const subscriptions = [
    events.on('backup:failed', (event) =>
      send({
        kind: 'backup_failed',
        title: `backup failed (${event.reason})`,
        text: `${event.code}: ${event.error}\nNo partial archive was kept; older backups are untouched.`,
        details: { ...event },
        at: new Date().toISOString(),
      }),
    ),
    events.on('rollback:completed', (event) =>
      send(
        watchNotification('rollback', event, `${dry(event)}rolled back ${event.service} to ${event.to}`, [
          `from ${event.from.join(', ') || 'unknown'} (${event.trigger}); traffic ${event.confirmed ? 'confirmed' : 'NOT confirmed'} on ${event.to} after ${event.durationMs} ms`,
          restorePointLine(event),
          report('rollback:completed', event),
        ]),
      ),
    ),
    events.on('rollback:failed', (event) =>
      send(
        watchNotification('failure', event, `rollback of ${event.service} to ${event.to} FAILED`, [
          `${event.error.code}: ${event.error.message}`,
          'Traffic may still be on the bad revision: check the service now.',
          report('rollback:failed', event),
        ]),
      ),
    ),
    events.on('rollback:refused', (event) =>
      send(
        watchNotification('failure', event, `rollback of ${event.service} refused`, [
          `${event.refusal}: nothing was changed${event.to ? ` (would have gone to ${event.to})` : ''}`,
        ]),
      ),
    ),
    events.on('watch:promoted', (event) =>
      send(
        watchNotification(
          'promotion',
          event,
          `${dry(event)}${event.candidate} is now the stable revision of ${event.service}`,
          [
            event.trigger === 'manual' ? 'promoted by hand' : 'its watch window passed clean',
            `previous stable: ${event.previous ?? 'none'}`,
          ],
        ),
      ),
    ),
    events.on('watch:alert', (event) =>
      send(
        watchNotification('alert', event, `${event.service}: rule ${event.rule} tripped (alert only)`, [
          `${event.evaluation.detail} (threshold ${event.evaluation.threshold})`,
        ]),
      ),
    ),
    events.on('watch:insufficient-data', (event) =>
      send(
        watchNotification('alert', event, `${event.service}: not enough data to judge ${event.candidate}`, [
          `policy: ${event.policy}`,
          ...event.rules.map((rule) => `${rule.rule}: ${rule.detail}`),
        ]),
      ),
    ),
    events.on('watch:candidate', (event) =>
      send(
        watchNotification(
          event.verdict === 'passed' ? 'promotion' : 'alert',
          event,
          event.verdict === 'unreachable'
            ? `${event.service}: ${event.candidate} is ${event.detail}`
            : `${event.service}: candidate ${event.candidate} ${event.verdict} its tests at its tag URL`,
          [event.verdict === 'unreachable' ? '' : event.detail],
        ),
      ),
    ),
    events.on('watch:step', (event) =>
      send(
        watchNotification(
          'promotion',
          event,
          `${event.service}: ${event.candidate} now takes ${event.percent} % of traffic (step ${event.step} of ${event.steps})`,
          [`the rest stays on ${event.stable ?? 'the stable revision'}`],
        ),
      ),
    ),
    events.on('watch:failure', (event) =>
      send(
        watchNotification('failure', event, `${event.service}: ${event.operation} failed`, [
          `${event.error.code}: ${event.error.message}`,
        ]),
      ),
    ),
  ];
  return () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  };
}

function watchNotification(
  kind: Notification['kind'],
  event: WatchEventBase,
  title: string,
  lines: string[],
): Notification {
  return {
    kind,
    service: event.service,
    title,
    text: [event.reason, ...lines].filter(Boolean).join('\n'),
    details: { ...event },
    at: new Date(event.at).toISOString(),
  };
}

function dry(event: WatchEventBase): string {
  return event.dryRun ? '[dry-run] would have: ' : '';
}

function restorePointLine(event: RollbackEventBase): string {
  const point = event.restorePoint;
  if (!point.backup) return `restore point: none (${point.note ?? 'no pre-deploy backup'})`;
  const schema =
    point.schemaChanged === null
      ? 'schema change unknown'
      : point.schemaChanged
        ? 'the schema CHANGED since'
        : 'schema unchanged since';
  return `restore point: ${point.backup} (${schema}: ${point.schemaDetail}); data is never restored automatically`;
}

/** The command that prints the incident's report; a failed lookup (a broken store) only drops the id. */
function reportLine(event: WatchEventBase, rollbackId: () => number | undefined): string {
  let id: number | undefined;
  try {
    id = rollbackId();
  } catch {
    id = undefined;
  }
  if (id !== undefined) return `report: runwarden report --rollback ${id}`;
  return event.watchId === null ? '' : `report: runwarden report --watch ${event.watchId}`;
}
