import { type Command, Option } from 'commander';
import { progressReporter } from '../../backup/progress.js';
import { formatBytes } from '../../util/format-bytes.js';
import { type CopyReport, copyAfterBackup } from '../../app/copy-after-backup.js';
import type { BackupResult } from '../../backup/run-backup.js';
import type { App } from '../../app/app.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { withInterrupt } from '../interrupt.js';
import { printResult } from '../output.js';
import { withApp } from '../with-app.js';

interface BackupOptions extends GlobalOptions {
  reason: 'manual' | 'pre-deploy';
  /** false with --no-offsite. */
  offsite: boolean;
}

type OffsiteOutcome = CopyReport | { state: 'skipped' };

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
    .option(
      '--no-offsite',
      'do not copy the archive to the off-site bucket now (it waits in the backlog for the daemon)',
    )
    .action(async (options: BackupOptions) => {
      const { result, offsite } = await withApp(options, 'write', async (app, loaded) => {
        if (!loaded.source) app.logger.warn('no config file found; backing up with the default sources');
        const progress = progressReporter({ logger: app.logger });
        let result: BackupResult;
        try {
          result = await withInterrupt(
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
        return { result, offsite: await copyOffsite(app, result, options.offsite) };
      });
      printResult(summary(result, offsite), options.json === true, describe);
    });
}

/** The copy to the bucket, when off-site copies are configured; a failure is a warning, not exit 1. */
async function copyOffsite(
  app: App,
  result: BackupResult,
  wanted: boolean,
): Promise<OffsiteOutcome | undefined> {
  const offsite = await app.offsite();
  if (!offsite) return undefined;
  if (!wanted) return { state: 'skipped' };
  return withInterrupt(
    app.logger,
    'off-site copy',
    'stopping the off-site copy; the archive stays in the backlog for the daemon',
    (signal) => copyAfterBackup(offsite, app.store.backups, result.file, signal),
  );
}

function summary(result: BackupResult, offsite: OffsiteOutcome | undefined) {
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
    ...(offsite ? { offsite } : {}),
  };
}

function describe(result: ReturnType<typeof summary>): string {
  const lines = [
    `backup written and verified: ${result.file}`,
    `  ${formatBytes(result.size)}, ${result.entries} entries (${result.databases.length} databases), ${(result.duration_ms / 1000).toFixed(1)} s`,
    `  sha256 ${result.sha256}`,
  ];
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  const offsite = result.offsite;
  if (offsite?.state === 'confirmed')
    lines.push(`  off-site: copied and confirmed as ${offsite.object} (generation ${offsite.generation})`);
  else if (offsite?.state === 'skipped')
    lines.push('  off-site: not copied now (--no-offsite); it waits in the backlog for the daemon');
  else if (offsite?.state === 'failed')
    lines.push(
      `  warning: off-site copy failed (${offsite.code}): ${offsite.error}; the backup is good, and the archive stays in the backlog for the daemon to copy`,
    );
  return lines.join('\n');
}
