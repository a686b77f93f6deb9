import path from 'node:path';
import type { Command } from 'commander';
import type { PruneOutcome } from '../../backup/prune.js';
import type { RetentionConfig } from '../../config/schema/backup.js';
import { formatWithin } from '../../core/retention.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printFailedResult, printResult } from '../output.js';
import { withApp } from '../with-app.js';
import { backupsCommand } from './backups.js';

/** `runwarden backups prune`, added to the `backups` group whatever the order of COMMANDS. */
export function registerBackupsPrune(program: Command): void {
  registerPrune(backupsCommand(program));
}

/** Adds `prune [--dry-run] [--json]` under `backups`. Exit 1 when an archive could not be deleted. */
export function registerPrune(backups: Command): void {
  withJsonOption(withConfigOption(backups.command('prune')))
    .description(
      'apply backup.retention (restic keep_* rules, counted back from the newest verified backup): ' +
        'prints each backup with keep or delete and the rule that kept it',
    )
    .option('--dry-run', 'print the plan; delete nothing')
    .action(async (options: GlobalOptions & { dryRun?: boolean }) => {
      const dryRun = options.dryRun === true;
      // A dry run reads only: it creates no state folder where there is none.
      const { config, outcome } = await withApp(options, dryRun ? 'read' : 'write', async (app) => ({
        config: app.config,
        outcome: await app.backups.prune({ dryRun, signal: new AbortController().signal }),
      }));
      const result = {
        policy: describePolicy(config.backup.retention, config.backup.timezone),
        ...outcome,
      };
      const human = (data: typeof result) => describe(data, data.policy);
      const failed = outcome.decisions.filter((decision) => decision.error !== undefined);
      if (failed.length === 0) printResult(result, options.json === true, human);
      else
        printFailedResult(
          result,
          {
            code: 'RW_PRUNE_FAILED',
            message: `${failed.length} archives could not be deleted: ${failed.map((decision) => `${path.basename(decision.file)}: ${decision.error}`).join('; ')}`,
          },
          options.json === true,
          human,
        );
    });
}

function describePolicy(retention: RetentionConfig, timezone: string): string {
  const rules = Object.entries(retention)
    .filter(([, value]) => value !== 0)
    .map(([key, value]) => {
      if (key === 'keep_within') return `keep_within ${formatWithin(value)}`;
      return `${key} ${value === -1 ? 'unlimited' : value}`;
    });
  return rules.length === 0
    ? 'empty (nothing is ever deleted)'
    : `${rules.join(', ')} (periods in ${timezone})`;
}

function describe(outcome: PruneOutcome, policy: string): string {
  const lines = [`policy: ${policy}`];
  if (outcome.decisions.length === 0) lines.push('no cataloged backups');
  for (const decision of outcome.decisions) {
    const action = decision.keep
      ? 'keep  '
      : decision.deleted
        ? 'delete'
        : outcome.dryRun
          ? 'delete'
          : 'FAILED';
    const why = decision.error ? `could not delete: ${decision.error}` : decision.reasons.join(', ');
    lines.push(
      `${action}  ${decision.startedAt.slice(0, 19).replace('T', ' ')}  ${path.basename(decision.file)}  ${why}`.trimEnd(),
    );
  }
  const planned = outcome.decisions.filter((decision) => !decision.keep).length;
  lines.push(
    outcome.dryRun
      ? `dry run: ${outcome.decisions.length - planned} to keep, ${planned} would be deleted; nothing was deleted`
      : `${outcome.retained} kept, ${outcome.deleted.length} deleted`,
  );
  return lines.join('\n');
}
