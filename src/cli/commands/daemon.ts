import type { Command } from 'commander';
import { startDaemon } from '../../app/daemon.js';
import { errorMessage, ExitCode } from '../../core/errors.js';
import { createLogger } from '../../telemetry/logger.js';
import { type GlobalOptions, loadFromOptions, withConfigPathOption } from '../common.js';
import { onStopSignals } from '../interrupt.js';

export function registerDaemon(program: Command): void {
  withConfigPathOption(program.command('daemon'))
    .description('run the watchdog until SIGTERM/SIGINT (first signal: drain gracefully; second: exit now)')
    .action(async (options: GlobalOptions) => {
      const loaded = loadFromOptions(options);
      const logger = createLogger({ level: loaded.config.log.level, format: loaded.config.log.format });
      if (!loaded.source) logger.warn('no config file found; running with defaults');
      const daemon = await startDaemon(loaded.config, logger);
      await new Promise<void>((resolve) => {
        onStopSignals(
          (signal) =>
            daemon.stop(signal).then(
              () => resolve(),
              (error) => {
                logger.error({ err: errorMessage(error) }, 'shutdown failed');
                process.exitCode = 1;
                resolve();
              },
            ),
          (signal) => {
            logger.fatal({ signal }, 'second signal: exiting at once');
            process.exit(ExitCode.failed);
          },
        );
      });
      // Everything is closed; exit now rather than wait on a stray handle a library left behind.
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
}
