import type { EventBus } from '../events/event-bus.js';
import type { Narrator } from './narrator.js';

/**
 * Prints what the daemon reports as it happens. `problems` only: failures and refusals (shown
 * during the story, so a missed step comes with its cause on screen). `all`: also watches,
 * promotions, rollbacks and backups other than the 10-second scheduled ones (while exploring).
 * Returns the unsubscribe function.
 */
export function narrateLive(bus: EventBus, narrator: Narrator, scope: 'problems' | 'all'): () => void {
  const offs = [
    bus.on('watch:failure', (event) =>
      narrator.event(`! ${event.service}: ${event.operation} failed: ${event.reason}`),
    ),
    bus.on('rollback:failed', (event) =>
      narrator.event(`! ${event.service}: rollback to ${event.to} failed: ${event.error.message}`),
    ),
    bus.on('rollback:refused', (event) => narrator.event(`! ${event.service}: ${event.reason}`)),
    bus.on('backup:failed', (event) => narrator.event(`! backup (${event.reason}) failed: ${event.error}`)),
  ];
  if (scope === 'all') {
    offs.push(
      bus.on('watch:started', (event) => narrator.event(`${event.service}: watching ${event.reason}`)),
      bus.on('watch:promoted', (event) =>
        narrator.event(`${event.service}: promoted ${event.stable} (${event.reason})`),
      ),
      bus.on('watch:ended', (event) =>
        narrator.event(
          `${event.service}: watch of ${event.candidate} ended ${event.status}: ${event.reason}`,
        ),
      ),
      bus.on('watch:alert', (event) => narrator.event(`${event.service}: alert ${event.reason}`)),
      bus.on('rollback:started', (event) =>
        narrator.event(`${event.service}: rolling back to ${event.to}: ${event.reason}`),
      ),
      bus.on('rollback:completed', (event) =>
        narrator.event(
          `${event.service}: rolled back to ${event.to} (${event.confirmed ? 'confirmed' : 'unconfirmed'}); restore point ${event.restorePoint.backup ? narrator.path(event.restorePoint.backup) : 'none yet'}; ${event.restorePoint.schemaDetail}`,
        ),
      ),
      bus.on('backup:completed', (event) => {
        if (event.reason !== 'scheduled')
          narrator.event(`backup (${event.reason}) verified: ${narrator.path(event.file)}`);
      }),
    );
  }
  return () => {
    for (const off of offs) off();
  };
}
