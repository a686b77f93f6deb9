import type { EventBus } from '../events.js';
import type { NotificationDispatcher } from './dispatcher.js';

/**
 * Turns the daemon's events into notifications. Subscribing (rather than having jobs call the
 * notifier) keeps every job free of notification concerns and makes delivery failures harmless.
 * Returns a function that unsubscribes everything.
 */
export function notifyOnEvents(events: EventBus, dispatcher: NotificationDispatcher): () => void {
  const subscriptions = [
    events.on('backup:failed', (event) =>
      dispatcher.notify({
        kind: 'backup_failed',
        title: `backup failed (${event.reason})`,
        text: `${event.code}: ${event.error}\nNo partial archive was kept; older backups are untouched.`,
        details: { ...event },
        at: new Date().toISOString(),
      }),
    ),
  ];
  return () => {
    for (const unsubscribe of subscriptions) unsubscribe();
  };
}
