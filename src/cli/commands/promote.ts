import type { Command } from 'commander';
import { manualPromote } from '../../watch/manual-promote.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { SERVICE_FLAG, withWatchRuntime } from '../watch-command.js';

interface PromoteOptions extends GlobalOptions {
  service: string;
  revision: string;
  force?: boolean;
}

export function registerPromote(program: Command): void {
  withJsonOption(withConfigOption(program.command('promote')))
    .description(
      'blue-green switch: send 100 % of traffic to a tested revision and record it as the last known good one',
    )
    .requiredOption(...SERVICE_FLAG)
    .requiredOption('-r, --revision <name>', 'the revision to promote (short name, e.g. shop-00012-abc)')
    .option(
      '--force',
      'promote a revision marked bad, or a candidate that failed or has not passed its tests at its tag URL (refused without it, naming why)',
    )
    .action(async (options: PromoteOptions) => {
      const result = await withWatchRuntime(options, (runtime, signal) =>
        manualPromote(runtime, options.service, options.revision, signal, { force: options.force === true }),
      );
      printResult(result, options.json === true, (data) =>
        data.trafficChanged
          ? `${data.service}: all traffic now goes to ${data.revision}; it is the last known good revision (was ${data.previous ?? 'none'})`
          : `${data.service}: ${data.revision} already served all traffic; it is now the last known good revision (was ${data.previous ?? 'none'})`,
      );
    });
}
