import type { Command } from 'commander';
import { freezeService } from '../../watch/freeze.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { SERVICE_FLAG, withWatchRuntime } from '../watch-command.js';

interface FreezeOptions extends GlobalOptions {
  service: string;
  reason?: string;
}

export function registerFreeze(program: Command): void {
  withJsonOption(withConfigOption(program.command('freeze')))
    .description(
      'no automatic action on a service (watches still observe and record); `runwarden rollback` still works',
    )
    .requiredOption(...SERVICE_FLAG)
    .option(
      '--reason <text>',
      'why, shown by status and history (freezing again without it keeps the reason)',
    )
    .action(async (options: FreezeOptions) => {
      const result = await withWatchRuntime(options, async (runtime) =>
        freezeService(runtime, options.service, options.reason ?? null),
      );
      printResult(result, options.json === true, (data) => {
        const why = data.reason ? ` (${data.reason})` : '';
        if (!data.changed) return `${data.service}: already frozen${why}`;
        return `${data.service}: frozen${why}; no automatic action until unfrozen`;
      });
    });
}
