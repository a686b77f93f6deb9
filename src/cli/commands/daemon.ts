import { type Command, Option } from 'commander';
import { startDaemon } from '../../app/daemon.js';
import type { RunningDaemon } from '../../app/daemon-context.js';
import { errorMessage, ExitCode } from '../../core/errors.js';
import { ROLES, type Role } from '../../config/schema/cluster.js';
import { createLogger } from '../../telemetry/logger.js';
import { type GlobalOptions, loadFromOptions, withConfigPathOption } from '../common.js';
import { onStopSignals } from '../interrupt.js';

export function registerDaemon(program: Command): void {
  withConfigPathOption(program.command('daemon'))
    .description('run the watchdog until SIGTERM/SIGINT (first signal: drain gracefully; second: exit now)')
    .addOption(
      new Option(
        '--role <role>',
        'backup: backups beside the data (a sidecar); watch: deploy watch and alert webhooks; all: both (overrides the config `role`)',
      ).choices(ROLES),
    )
    .action(async (options: GlobalOptions & { role?: Role }) => {
      const loaded = loadFromOptions(options);
      if (options.role) loaded.config.role = options.role;
      const logger = createLogger({ level: loaded.config.log.level, format: loaded.config.log.format });
      // Node exits on SIGHUP unless it is handled; here it reloads the TLS certificate files
      // (systemd's ExecReload sends it). One arriving during start-up is noted and dropped.
      let running: RunningDaemon | undefined;
      process.on('SIGHUP', () => {
        if (running) running.reload('SIGHUP');
        else logger.warn('SIGHUP during start-up ignored: send it again once the daemon is ready');
      });
      // Listening before start-up begins: without a handler, a SIGTERM during start-up (systemd
      // stopping a unit that is still starting) would kill the process outright, lock and all.
      let stopRequested: NodeJS.Signals | undefined;
      let stopped = () => {};
      const done = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      const stop = (daemon: RunningDaemon, signal: NodeJS.Signals) =>
        daemon.stop(signal).then(stopped, (error) => {
          logger.error({ err: errorMessage(error) }, 'shutdown failed');
          process.exitCode = 1;
          stopped();
        });
      onStopSignals(
        (signal) => {
          if (running) stop(running, signal);
          else {
            stopRequested = signal;
            logger.info({ signal }, 'stop requested during start-up: stopping once started');
          }
        },
        (signal) => {
          logger.fatal({ signal }, 'second signal: exiting at once');
          process.exit(ExitCode.failed);
        },
      );
      // Logged once the handlers listen, so a stop that follows it is always a graceful one.
      if (!loaded.source) logger.warn('no config file found; running with defaults');
      // Cloud Run sets K_REVISION in every container of a revision (the runtime contract).
      const revision = process.env.K_REVISION || undefined;
      running = await startDaemon(loaded.config, logger, revision ? { revision } : {});
      if (stopRequested) stop(running, stopRequested);
      await done;
      // Everything is closed; exit now rather than wait on a stray handle a library left behind.
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
}
