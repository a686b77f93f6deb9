import type { Command } from 'commander';
import { unfreezeService } from '../../watch/freeze.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { SERVICE_FLAG, withWatchRuntime } from '../watch-command.js';

export function registerUnfreeze(program: Command): void {
  withJsonOption(withConfigOption(program.command('unfreeze')))
    .description('resume automatic actions on a frozen service (from the daemon’s next tick)')
    .requiredOption(...SERVICE_FLAG)
    .action(async (options: GlobalOptions & { service: string }) => {
      const result = await withWatchRuntime(options, async (runtime) =>
        unfreezeService(runtime, options.service),
      );
      printResult(result, options.json === true, (data) =>
        data.changed
          ? `${data.service}: unfrozen; automatic actions resume`
          : `${data.service}: was not frozen`,
      );
    });
}
