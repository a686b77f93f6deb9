import type { Command } from 'commander';
import { runRestoreDrill } from '../../app/restore-drill.js';
import type { DrillOutcome } from '../../restore/drill.js';
import { formatBytes } from '../../util/format-bytes.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { withInterrupt } from '../interrupt.js';
import { printFailedResult, printResult } from '../output.js';
import { withApp } from '../with-app.js';
import { backupsCommand } from './backups.js';

/**
 * `runwarden backups drill [--json]`: one restore drill now (runDrill). Exit 0 when the newest
 * verified archive restored whole; 1 when it differs from its manifest (each difference named) or
 * the drill could not run.
 */
export function registerBackupsDrill(program: Command): void {
  withJsonOption(withConfigOption(backupsCommand(program).command('drill')))
    .description(
      'restore the newest verified archive into a temporary folder beside the main database, run integrity_check ' +
        'and compare row counts and schema with its manifest, then remove the copy; exit 1 naming what differed',
    )
    .action(async (options: GlobalOptions) => {
      const outcome = await withApp(options, 'write', (app) =>
        withInterrupt(app.logger, 'drill', 'stopping the drill; its copy is removed', (signal) =>
          runRestoreDrill(app, 'cli', signal),
        ),
      );
      if (outcome.ok) printResult(outcome, options.json === true, describe);
      else
        printFailedResult(
          outcome,
          { code: 'RW_DRILL_FAILED', message: `restore drill failed: ${outcome.problems.join('; ')}` },
          options.json === true,
          describe,
        );
    });
}

function describe(outcome: DrillOutcome): string {
  const lines = [
    `${outcome.ok ? 'drill passed' : 'DRILL FAILED'}: ${outcome.archive} (${formatBytes(outcome.bytes)} restored into ${outcome.folder}, removed)`,
  ];
  for (const database of outcome.databases) {
    const state = database.problems.length === 0 ? 'ok    ' : 'FAILED';
    lines.push(`  ${state} ${database.label}: ${database.tables} tables, ${database.rows} rows`);
  }
  if (outcome.media) {
    const state = outcome.media.problems.length === 0 ? 'ok    ' : 'FAILED';
    lines.push(`  ${state} media: ${outcome.media.files} files, ${formatBytes(outcome.media.bytes)}`);
  }
  for (const problem of outcome.problems) lines.push(`  - ${problem}`);
  if (outcome.note) lines.push(`note: ${outcome.note}`);
  return lines.join('\n');
}
