import type { Command } from 'commander';
import { printableConfig } from '../../config/load.js';
import { type GlobalOptions, loadFromOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult, toYaml } from '../output.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('check or print the configuration');

  withJsonOption(withConfigOption(config.command('check')))
    .description('validate the configuration; prints every problem with its path (exit 2 if any)')
    .action((options: GlobalOptions) => {
      // An invalid config throws ConfigError: exit 2, every problem listed (in error.problems with --json).
      const loaded = loadFromOptions(options);
      printResult(
        { ok: true, source: loaded.source ?? null, problems: [] },
        options.json === true,
        (result) => `config ok (${result.source ?? 'no file found: defaults only'})`,
      );
    });

  withJsonOption(withConfigOption(config.command('print')))
    .description('print the effective configuration (file < env), secrets redacted')
    .action((options: GlobalOptions) => {
      const loaded = loadFromOptions(options);
      printResult(printableConfig(loaded.config), options.json === true, toYaml);
    });
}
