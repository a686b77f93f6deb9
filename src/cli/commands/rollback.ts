import type { Command } from 'commander';
import { manualRollback } from '../../watch/manual-rollback.js';
import type { RollbackOutcome } from '../../watch/rollback-request.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { type Failure, printFailedResult, printResult } from '../output.js';
import { SERVICE_FLAG, withWatchRuntime } from '../watch-command.js';

interface RollbackOptions extends GlobalOptions {
  service: string;
  to?: string;
  dryRun?: boolean;
  reason?: string;
  force?: boolean;
}

export function registerRollback(program: Command): void {
  withJsonOption(withConfigOption(program.command('rollback')))
    .description(
      'send 100 % of traffic back to the last known good revision (during a watch the stable one, after a promotion the one before; or --to REV), conditional on the service not changing meanwhile',
    )
    .requiredOption(...SERVICE_FLAG)
    .option(
      '--to <revision>',
      'a specific ready revision instead of the default target (see `runwarden status`)',
    )
    .option('--dry-run', 'say what would be done, change nothing')
    .option('--reason <text>', 'why, for the history and notifications')
    .option('--force', 'roll back to a revision marked bad (refused without it, naming the mark)')
    .action(async (options: RollbackOptions) => {
      const outcome = await withWatchRuntime(options, (runtime, signal) =>
        manualRollback(
          runtime,
          {
            service: options.service,
            to: options.to,
            dryRun: options.dryRun === true,
            reason: options.reason,
            force: options.force === true,
          },
          signal,
        ),
      );
      const result = { service: options.service, ...outcome };
      const failure = failureOf(result);
      if (failure === null) printResult(result, options.json === true, describe);
      else printFailedResult(result, failure, options.json === true, describe);
    });
}

/** Exit 1: refused, or sent but not seen serving 100 % (the message is the human line). */
function failureOf(outcome: RollbackOutcome & { service: string }): Failure | null {
  if (outcome.kind === 'refused') return { code: 'RW_ROLLBACK_REFUSED', message: describe(outcome) };
  if (outcome.kind === 'rolled_back' && !outcome.confirmed)
    return { code: 'RW_ROLLBACK_UNCONFIRMED', message: describe(outcome) };
  return null;
}

function describe(outcome: RollbackOutcome & { service: string }): string {
  switch (outcome.kind) {
    case 'rolled_back':
      return outcome.confirmed
        ? `${outcome.service}: all traffic now goes to ${outcome.to} (was ${outcome.from.join(', ')})`
        : `${outcome.service}: traffic update to ${outcome.to} done, but Cloud Run does not show it serving 100 % yet`;
    case 'dry_run':
      return `${outcome.service}: dry run: would send all traffic to ${outcome.to} (now ${outcome.from.join(', ')})`;
    case 'noop':
      return `${outcome.service}: all traffic already goes to ${outcome.to}; nothing to do`;
    case 'refused':
      return `${outcome.service}: not rolled back (${outcome.reason}): ${outcome.detail}`;
  }
}
