import path from 'node:path';
import type { Command } from 'commander';
import { errorMessage, RunwardenError } from '../../core/errors.js';
import type { RemotePruneOutcome } from '../../offsite/remote-prune.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printFailedResult, printResult } from '../output.js';
import { describeLocal, describePolicy, describeRemote } from '../prune-text.js';
import { withApp } from '../with-app.js';
import { backupsCommand } from './backups.js';

/** `runwarden backups prune`, added to the `backups` group whatever the order of COMMANDS. */
export function registerBackupsPrune(program: Command): void {
  registerPrune(backupsCommand(program));
}

type RemoteResult = { bucket: string; policy: string } & (
  | RemotePruneOutcome
  | { failed: string; code: string }
);

/**
 * Adds `prune [--dry-run] [--json]` under `backups`: the local archives, then (with off-site copies
 * on) the bucket's, under `remote`. Exit 1 when an archive or object could not be deleted or the
 * bucket could not be pruned; the local side is done (and reported) either way.
 */
export function registerPrune(backups: Command): void {
  withJsonOption(withConfigOption(backups.command('prune')))
    .description(
      'apply backup.retention (restic keep_* rules, counted back from the newest verified backup): ' +
        'prints each backup with keep or delete and the rule that kept it; with backup.offsite, ' +
        'then the same for the copies in the bucket (offsite.retention)',
    )
    .option('--dry-run', 'print the plans; delete nothing')
    .action(async (options: GlobalOptions & { dryRun?: boolean }) => {
      const dryRun = options.dryRun === true;
      const signal = new AbortController().signal;
      // A dry run reads only: it creates no state folder where there is none.
      const { config, outcome, remote } = await withApp(options, dryRun ? 'read' : 'write', async (app) => {
        const outcome = await app.backups.prune({ dryRun, signal });
        const offsite = await app.offsite();
        let remote: RemoteResult | undefined;
        if (offsite) {
          const bucket = `gs://${offsite.config.bucket}/${offsite.config.prefix}`;
          const policy = describePolicy(
            offsite.config.retention ?? app.config.backup.retention,
            app.config.backup.timezone,
          );
          try {
            remote = { policy, ...(await offsite.prune({ dryRun, signal })) };
          } catch (error) {
            const code = error instanceof RunwardenError ? error.code : 'RW_FAILED';
            remote = { bucket, policy, failed: errorMessage(error), code };
          }
        }
        return { config: app.config, outcome, remote };
      });
      const result = {
        policy: describePolicy(config.backup.retention, config.backup.timezone),
        ...outcome,
        ...(remote ? { remote } : {}),
      };
      const human = (data: typeof result) =>
        [describeLocal(data, data.policy), ...(data.remote ? [describeRemote(data.remote)] : [])].join(
          '\n\n',
        );
      const failure = failureOf(result);
      if (!failure) printResult(result, options.json === true, human);
      else printFailedResult(result, failure, options.json === true, human);
    });
}

function failureOf(result: {
  decisions: Array<{ file: string; error?: string }>;
  remote?: RemoteResult;
}): { code: string; message: string } | undefined {
  const failed = result.decisions
    .filter((decision) => decision.error !== undefined)
    .map((decision) => `${path.basename(decision.file)}: ${decision.error}`);
  const remote = result.remote;
  if (remote && !('failed' in remote)) {
    for (const decision of remote.decisions) {
      if (decision.error !== undefined) failed.push(`${decision.url}: ${decision.error}`);
    }
  }
  const deletions = `${failed.length} archives could not be deleted: ${failed.join('; ')}`;
  if (remote && 'failed' in remote) {
    const message = `could not prune ${remote.bucket}: ${remote.failed}`;
    return { code: remote.code, message: failed.length > 0 ? `${message}; ${deletions}` : message };
  }
  return failed.length === 0 ? undefined : { code: 'RW_PRUNE_FAILED', message: deletions };
}
