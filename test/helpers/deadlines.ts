import { loadConfig } from '../../src/config/load.js';
import { type Config, type ConfigInput, configSchema } from '../../src/config/schema.js';
import { type Deadline, plus } from './wait.js';

/**
 * Deadlines of the tests, derived from the configuration the test gives the system under test
 * (poll and probe intervals, watch window, rule windows, metric delay, Cloud Run call bounds,
 * grace period, schedule), never from a guess about how fast this machine is.
 *
 * SLOWDOWN is how many times slower than configured the daemon's cycles may run before a test calls
 * it a failure: two cores shared by parallel suites and CPU hogs (load average 18 was seen) stretch
 * a 200 ms poll into seconds, and a deadline only costs time when something is really wrong.
 */
export const SLOWDOWN = 20;

/**
 * Starting a node process that loads the CLI (and the Google client libraries) until it says it is
 * ready. Nothing configures it, so it is the one bound here that is not derived: a backstop for a
 * process that never comes up (about 1.5 s on an idle machine), waited for on its own before the
 * derived deadlines start.
 */
export const PROCESS_START: Deadline = { ms: 60_000, basis: 'process start backstop' };

/**
 * Work whose length depends on the test's data and the CPU, not on any configuration (a snapshot of
 * a 150 MiB database before the first archive byte): a backstop, like process start.
 */
export const WORK_BACKSTOP: Deadline = {
  ms: 60_000,
  basis: 'backstop for unconfigured work on the test data',
};

/** How long the daemon's work tracker waits for aborted work to unwind (drain in src/daemon/work.ts). */
const ABORT_UNWIND_MS = 5_000;

/**
 * From SIGTERM until the daemon has exited: the grace period, the unwinding of work aborted past
 * it, and the process's own closing (unconfigured, so bounded like its start).
 */
export function stopDeadline(config: Config): Deadline {
  return {
    ms: config.shutdown.grace_period + ABORT_UNWIND_MS + PROCESS_START.ms,
    basis: `shutdown.grace_period + ${ABORT_UNWIND_MS} ms to unwind aborted work + process exit backstop`,
  };
}

/** A config as the daemon will see it: test inputs are parsed once for their intervals. */
export function parsed(input: ConfigInput | Config): Config {
  return configSchema.parse(input);
}

/** The config a daemon started with `--config file` runs with (environment left out). */
export function configOfFile(file: string): Config {
  return loadConfig({ path: file, env: {} }).config;
}

/**
 * Until metrics no longer show what happened before `since`: the widest rule window of complete
 * buckets, read `reporting_delay` late, plus one bucket for the boundary.
 */
export function agedOutAt(config: Config, since: number, index = 0): number {
  const service = serviceOf(config, index);
  const widest = Math.max(0, ...service.rules.map((rule) => (rule.signal === 'health' ? 0 : rule.window)));
  const { alignment_period, reporting_delay } = config.monitoring;
  return since + widest + reporting_delay + 2 * alignment_period;
}

function serviceOf(config: Config, index: number) {
  const service = config.services[index];
  if (!service) throw new Error(`the test config has no service #${index}`);
  return service;
}

/**
 * One traffic change through the Cloud Run API: the call, its retries and the long-running
 * operation, each bounded by the daemon's own configuration.
 */
export function actionDeadline(config: Config): Deadline {
  const { call_timeout, retry_deadline, operation_timeout } = config.cloud_run;
  return {
    ms: call_timeout + retry_deadline + operation_timeout,
    basis: 'cloud_run call_timeout + retry_deadline + operation_timeout',
  };
}

/**
 * Until the daemon has looked at the service once more: the baseline adopted, a new revision
 * noticed and its watch started, a change of traffic seen.
 */
export function pollDeadline(config: Config, index = 0): Deadline {
  const service = serviceOf(config, index);
  const { call_timeout, retry_deadline } = config.cloud_run;
  return {
    ms: SLOWDOWN * service.poll_interval + call_timeout + retry_deadline,
    basis: `${SLOWDOWN} x poll_interval + cloud_run call_timeout + retry_deadline`,
  };
}

/**
 * One pass of the watch as the in-process harness runs it: a probe, a poll with its metric reads,
 * and at most one traffic change.
 */
export function passDeadline(config: Config, index = 0): Deadline {
  const service = serviceOf(config, index);
  const action = actionDeadline(config);
  return {
    ms: service.probe_timeout + pollDeadline(config, index).ms + action.ms,
    basis: `probe_timeout + poll + ${action.basis}`,
  };
}

/**
 * From a deploy until its watch concludes (promoted, rolled back or ended): notice the revision,
 * the watch window, the widest rule window of complete reported buckets with its alignment and
 * reporting delay, enough probes for the health rule, and the rollback's traffic change.
 */
export function watchDeadline(config: Config, index = 0): Deadline {
  const service = serviceOf(config, index);
  const metricRules = service.rules.filter((rule) => rule.signal !== 'health');
  const widest = Math.max(0, ...metricRules.map((rule) => rule.window));
  const metricDelay =
    metricRules.length > 0 ? config.monitoring.alignment_period + config.monitoring.reporting_delay : 0;
  const healthProbes = Math.max(
    1,
    ...service.rules.filter((rule) => rule.signal === 'health').map((rule) => Number(rule.threshold)),
  );
  const cycle = service.poll_interval + healthProbes * service.probe_interval + metricDelay;
  const ms =
    pollDeadline(config, index).ms +
    service.watch_window +
    widest +
    service.probe_timeout +
    SLOWDOWN * cycle +
    actionDeadline(config).ms;
  return {
    ms,
    basis:
      'poll + watch_window + widest rule window + probe_timeout' +
      ` + ${SLOWDOWN} x (poll_interval + health threshold x probe_interval + alignment_period + reporting_delay)` +
      ' + one traffic change',
  };
}

/**
 * From a tagged no-traffic deploy until its release in steps concludes: its watch, then each step's
 * wait and traffic change, and the watch window a release adds for data that comes late.
 */
export function releaseDeadline(config: Config, index = 0): Deadline {
  const service = serviceOf(config, index);
  const steps = service.release.steps.length;
  const perStep = service.release.step_wait + SLOWDOWN * service.poll_interval + actionDeadline(config).ms;
  return plus(watchDeadline(config, index), {
    ms: steps * perStep + service.watch_window,
    basis: `${steps} steps x (step_wait + ${SLOWDOWN} x poll_interval + one traffic change) + watch_window`,
  });
}
