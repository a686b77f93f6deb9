import { FatalError } from '../core/errors.js';
import type { Job } from '../daemon/scheduler.js';
import type { DrillTrigger } from '../events/drill-events.js';
import type { DrillOutcome } from '../restore/drill.js';
import type { App } from './app.js';

/**
 * One restore drill of the newest verified archive with the app's config, catalog and events (see
 * runDrill); logs its verdict. Resolves with ok false when the archive differs from its manifest.
 */
export async function runRestoreDrill(
  app: App,
  trigger: DrillTrigger,
  signal: AbortSignal,
): Promise<DrillOutcome> {
  const { runDrill } = await import('../restore/drill.js');
  const logger = app.logger.child({ component: 'drill' });
  const outcome = await runDrill({
    sources: app.config.backup.sources,
    catalog: app.store.backups,
    trigger,
    signal,
    events: app.events,
    now: () => new Date(app.clock()),
  });
  const facts = { archive: outcome.archive, checks: outcome.checks, duration_ms: outcome.durationMs };
  if (outcome.ok) logger.info(facts, 'restore drill passed');
  else logger.error({ ...facts, problems: outcome.problems }, 'restore drill failed');
  return outcome;
}

/**
 * The daemon's `backup.drill` job: a drill that finds a difference rejects (RW_DRILL_FAILED), so the
 * scheduler logs it under the job's name like any failed job; metrics come from its events.
 */
export function scheduledDrillJob(app: App): Job {
  return {
    name: 'drill',
    async runOnce(signal) {
      const outcome = await runRestoreDrill(app, 'schedule', signal);
      if (!outcome.ok)
        throw new FatalError(
          'RW_DRILL_FAILED',
          `restore drill of ${outcome.archive} failed: ${outcome.problems.join('; ')}`,
        );
    },
  };
}
