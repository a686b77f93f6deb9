import type { Command } from 'commander';
import { startDaemon } from '../../app/daemon.js';
import { errorMessage } from '../../core/errors.js';
import { createLogger } from '../../telemetry/logger.js';
import { type GlobalOptions, loadFromOptions, withConfigPathOption } from '../common.js';

export function registerDaemon(program: Command): void {
  withConfigPathOption(program.command('daemon'))
    .description('run the watchdog until SIGTERM/SIGINT (first signal: drain gracefully; second: exit now)')
    .action(async (options: GlobalOptions) => {
      const loaded = loadFromOptions(options);
      const logger = createLogger({ level: loaded.config.log.level, format: loaded.config.log.format });
      if (!loaded.source) logger.warn('no config file found; running with defaults');
      // Node exits on SIGHUP unless it is handled; here it reloads the TLS certificate files
      // (systemd's ExecReload sends it). One arriving during start-up is noted and dropped.
      let running: Awaited<ReturnType<typeof startDaemon>> | undefined;
      process.on('SIGHUP', () => {
        if (running) running.reload('SIGHUP');
        else logger.warn('SIGHUP during start-up ignored: send it again once the daemon is ready');
      });
      const daemon = await startDaemon(loaded.config, logger);
      running = daemon;
      await new Promise<void>((resolve) => {
        let received = 0;
        const onSignal = (signal: NodeJS.Signals) => {
          received += 1;
          if (received > 1) {
            logger.fatal({ signal }, 'second signal: exiting at once');
            process.exit(1);
          }
          daemon.stop(signal).then(
            () => resolve(),
            (error) => {
              logger.error({ err: errorMessage(error) }, 'shutdown failed');
              process.exitCode = 1;
              resolve();
            },
          );
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      // Everything is closed; exit now rather than wait on a stray handle a library left behind.
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
}
