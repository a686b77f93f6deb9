import { type Command, Option } from 'commander';
import { progressReporter } from '../../backup/progress.js';
import { formatBytes } from '../../util/format-bytes.js';
import type { BackupResult } from '../../backup/run-backup.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { withInterrupt } from '../interrupt.js';
import { printResult } from '../output.js';
import { withApp } from '../with-app.js';

interface BackupOptions extends GlobalOptions {
  reason: 'manual' | 'pre-deploy';
}

export function registerBackup(program: Command): void {
  withJsonOption(withConfigOption(program.command('backup')))
    .description(
      'take a verified backup now: consistent snapshots of the main and tenant databases plus the media folder, in one ZIP',
    )
    .addOption(
      new Option('--reason <reason>', 'why, recorded in the manifest')
        .choices(['manual', 'pre-deploy'])
        .default('manual'),
    )
    .action(async (options: BackupOptions) => {
      const result = await withApp(options, 'write', async (app, loaded) => {
        if (!loaded.source) app.logger.warn('no config file found; backing up with the default sources');
        const progress = progressReporter({ logger: app.logger });
        try {
          return await withInterrupt(
            app.logger,
            'backup',
            'stopping the backup; its partial archive is removed',
            (signal) =>
              app.backups.run(
                { reason: options.reason, trigger: 'cli' },
                { signal, onProgress: (event) => progress.update(event.phase, event.done, event.total) },
              ),
          );
        } finally {
          progress.finish();
        }
      });
      printResult(summary(result), options.json === true, describe);
    });
}

function summary(result: BackupResult) {
  return {
    file: result.file,
    size: result.size,
    sha256: result.sha256,
    reason: result.manifest.reason,
    trigger: result.manifest.trigger,
    started_at: result.manifest.started_at,
    finished_at: result.manifest.finished_at,
    entries: result.manifest.entries.length,
    databases: result.manifest.databases.map((database) => database.entry),
    duration_ms: result.durationMs,
    warnings: result.warnings,
  };
}

function describe(result: ReturnType<typeof summary>): string {
  const lines = [
    `backup written and verified: ${result.file}`,
    `  ${formatBytes(result.size)}, ${result.entries} entries (${result.databases.length} databases), ${(result.duration_ms / 1000).toFixed(1)} s`,
    `  sha256 ${result.sha256}`,
  ];
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  return lines.join('\n');
}
