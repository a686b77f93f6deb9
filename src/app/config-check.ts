import type { DaemonContext } from './daemon-context.js';
import { errorMessage, FatalError } from '../core/errors.js';
import { CONFIG_PROBLEM_KINDS } from '../telemetry/metrics-config.js';
import type { WatchRuntime } from '../watch/watch-runtime.js';
import type { Job } from '../daemon/scheduler.js';
import { backupProblems, type ConfigProblem } from './source-checks.js';

/** How often the checks run again after the one at start, so a fix (or a new fault) shows. */
export const CONFIG_CHECK_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Checks at start, and hourly after, what would otherwise first show at the 03:00 backup or the
 * first deploy: every backup source and the backup folder (when scheduled backups are on) and
 * every service (readable from Cloud Run). Each new problem is logged once as a warning, each one
 * that went away once as info; `runwarden_config_problems{kind}` counts the current ones for the
 * shipped alert rule. A check never delays shutdown: stopping aborts it.
 */
export function scheduleConfigChecks(
  context: DaemonContext,
  watch: Pick<WatchRuntime, 'regions' | 'services'> | undefined,
): void {
  const stopping = new AbortController();
  context.events.on('daemon:stopping', () =>
    stopping.abort(new FatalError('RW_SHUTTING_DOWN', 'configuration check stopped by shutdown')),
  );
  const job = configCheckJob(context, watch);
  context.scheduler.every(
    CONFIG_CHECK_INTERVAL_MS,
    { name: job.name, runOnce: (signal) => job.runOnce(AbortSignal.any([signal, stopping.signal])) },
    true,
  );
}

export function configCheckJob(
  context: Pick<DaemonContext, 'config' | 'logger' | 'metrics' | 'events'>,
  /** Undefined when no service is configured (the daemon then runs no deploy watch). */
  watch: Pick<WatchRuntime, 'regions' | 'services'> | undefined,
): Job {
  const logger = context.logger.child({ component: 'config-check' });
  let known = new Map<string, ConfigProblem>();
  let first = true;
  return {
    name: 'config-check',
    async runOnce(signal) {
      const [backup, services] = await Promise.all([
        // The watch role reads no backup source: its host need not have them.
        context.config.backup.enabled && context.config.role !== 'watch'
          ? backupProblems(context.config.backup)
          : [],
        watch ? serviceProblems(watch, signal) : [],
      ]);
      // Stopped by shutdown: what was found is incomplete, so nothing is reported.
      if (signal.aborted) return;
      const problems = [...backup, ...services];
      for (const kind of CONFIG_PROBLEM_KINDS)
        context.metrics.config.problems.set(
          { kind },
          problems.filter((problem) => problem.kind === kind).length,
        );
      // Keyed by what has the problem: the same fault found again is not logged again, a
      // different one about the same thing is.
      const now = new Map(problems.map((problem) => [`${problem.kind}:${problem.subject}`, problem]));
      for (const [key, problem] of now)
        if (known.get(key)?.message !== problem.message)
          logger.warn(
            { kind: problem.kind, subject: problem.subject, problem: problem.message },
            'configuration problem',
          );
      for (const [key, problem] of known)
        if (!now.has(key))
          logger.info(
            { kind: problem.kind, subject: problem.subject, problem: problem.message },
            'configuration problem resolved',
          );
      if (first) {
        const services = watch?.services.length ?? 0;
        if (services === 0) logger.info('no services configured: no deploy is watched');
        logger.info(
          {
            problems: problems.length,
            services,
            backup_sources: context.config.backup.enabled,
          },
          'configuration checked',
        );
      }
      first = false;
      known = now;
      context.events.emit('config:checked', { problems });
    },
  };
}

/**
 * A service runwarden cannot read (missing, no permission, unreachable) cannot be watched or rolled
 * back. Read through the watch's shared listing: 500 services are one ListServices, not 500 reads.
 */
async function serviceProblems(
  watch: Pick<WatchRuntime, 'regions' | 'services'>,
  signal: AbortSignal,
): Promise<ConfigProblem[]> {
  const found = await Promise.all(
    watch.services.map(async (service): Promise<ConfigProblem | undefined> => {
      try {
        await watch.regions.observe(service.ref, signal);
        return undefined;
      } catch (error) {
        if (signal.aborted) return undefined;
        const { project, region, service: name } = service.ref;
        return {
          kind: 'service',
          subject: service.key,
          message: `service ${service.key} (${project}/${region}/${name}) cannot be read from Cloud Run: ${errorMessage(error)}; it is neither watched nor rolled back until it can`,
        };
      }
    }),
  );
  return found.filter((problem) => problem !== undefined);
}
