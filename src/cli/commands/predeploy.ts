import type { Command } from 'commander';
import { predeploy } from '../../watch/predeploy.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { SERVICE_FLAG, withWatchRuntime } from '../watch-command.js';

interface PredeployOptions extends GlobalOptions {
  service: string;
}

export function registerPredeploy(program: Command): void {
  withJsonOption(withConfigOption(program.command('predeploy')))
    .description(
      'before `gcloud run deploy`: take a verified backup and record the stable revision; the watch of the deploy names it as the restore point (exit 1 if the backup fails)',
    )
    .requiredOption(...SERVICE_FLAG)
    .action(async (options: PredeployOptions) => {
      const result = await withWatchRuntime(options, (runtime, signal) =>
        predeploy(runtime, options.service, signal),
      );
      printResult(
        {
          service: result.service,
          stable: result.stable,
          backup: result.record.backupFile,
          taken_at: new Date(result.record.at).toISOString(),
          schema: result.record.fingerprint,
        },
        options.json === true,
        (data) =>
          `${data.service}: backup ${data.backup} verified; stable revision ${data.stable ?? 'unknown'}${data.schema && 'schemaVersion' in data.schema ? ` (schema_version ${data.schema.schemaVersion})` : ''}`,
      );
    });
}
