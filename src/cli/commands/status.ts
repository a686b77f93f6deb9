import type { Command } from 'commander';
import { describeBacklog, type OffsiteBacklog, offsiteBacklog } from '../../offsite/backlog.js';
import { formatBytes } from '../../util/format-bytes.js';
import { formatAge, type RecoveryPoint, recoveryPoint } from '../../core/recovery-point.js';
import { serviceStatuses, type ServiceStatus } from '../../watch/status.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { withStateView } from '../read-state.js';

export function registerStatus(program: Command): void {
  withJsonOption(withConfigOption(program.command('status')))
    .description(
      'show each watched service: stable and candidate revisions, watch state, last rollback and backup',
    )
    .action(async (options: GlobalOptions) => {
      // Reads only: works offline, and creates no state folder where there is none.
      let stateDir: string | undefined;
      const result = await withStateView(options, (view) => {
        if (!view.exists) stateDir = view.config.state_dir;
        const latest = view.store.backups.list()[0];
        return {
          services: serviceStatuses(view.services, view.store).map(servingAsList),
          last_backup: latest
            ? { file: latest.file, at: latest.startedAt, reason: latest.reason, status: latest.status }
            : null,
          // Only with off-site copies configured: the JSON of a status without them is unchanged.
          ...(view.config.backup.offsite
            ? { offsite_backlog: offsiteBacklog(view.store.backups, Date.now()) }
            : {}),
          // How much a restore now would lose: everything written since the newest verified archive.
          recovery_point: recoveryPoint(view.store.backups.list(), new Date()),
        };
      });
      printResult(result, options.json === true, (data) => describe(data, stateDir));
    });
}

type StatusRow = Omit<ServiceStatus, 'serving'> & {
  serving: Array<{ revision: string; percent: number }> | null;
};

/** Revision names are data, not field names: JSON output lists them instead of keying by them. */
function servingAsList(status: ServiceStatus): StatusRow {
  const serving = status.serving;
  return {
    ...status,
    serving: serving && Object.entries(serving).map(([revision, percent]) => ({ revision, percent })),
  };
}

/** `noStateIn`: the state folder, when it holds no store yet. */
function describe(
  result: {
    services: StatusRow[];
    last_backup: { file: string; at: string } | null;
    offsite_backlog?: OffsiteBacklog;
    recovery_point: RecoveryPoint | null;
  },
  noStateIn: string | undefined,
): string {
  const lines: string[] = [];
  if (noStateIn !== undefined)
    lines.push(`no state yet in ${noStateIn} (the daemon or a first backup creates it)`);
  if (result.services.length === 0) lines.push('no services are configured (services: in the config)');
  for (const status of result.services) {
    const flags = [
      status.mode === 'dry-run' ? 'dry-run' : '',
      status.frozen ? `FROZEN (${status.frozen_reason ?? 'no reason given'})` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`${status.service} (${status.cloud_run})${flags ? ` [${flags}]` : ''}`);
    lines.push(
      `  stable:    ${status.stable ? `${status.stable.revision} (${status.stable.reason}, since ${status.stable.since})` : 'none known'}`,
    );
    const serving = status.serving
      ? status.serving.map(({ revision, percent }) => `${revision} ${percent}%`).join(', ')
      : 'not polled yet';
    lines.push(`  serving:   ${serving}${status.polled_at ? ` (polled ${status.polled_at})` : ''}`);
    if (status.watch) {
      const tripped = status.watch.tripped.length > 0 ? `, tripped: ${status.watch.tripped.join(', ')}` : '';
      const refused = status.watch.auth_failed ? ', auth_failed: probe credentials refused' : '';
      lines.push(
        `  watching:  ${status.watch.candidate} until ${status.watch.deadline} (watch ${status.watch.id}${tripped}${refused})`,
      );
      const test = status.watch.candidate_test;
      if (test)
        lines.push(
          `  candidate: ${test.verdict === 'unreachable' ? test.detail : `${test.verdict}: ${test.detail}`}`,
        );
      const step = status.watch.release_step;
      if (step)
        lines.push(
          `  release:   step ${step.step} of ${step.of}, ${step.percent}% of traffic since ${step.started_at}`,
        );
    } else {
      lines.push('  watching:  nothing');
    }
    if (status.last_watch)
      lines.push(
        `  last:      ${status.last_watch.candidate} ${status.last_watch.status} at ${status.last_watch.ended_at}: ${status.last_watch.reason ?? ''}`,
      );
    if (status.owed_rollback)
      lines.push(
        `  owed:      rollback to ${status.owed_rollback.to} from ${status.owed_rollback.from.join(', ')}, decided ${status.owed_rollback.decided_at} (${status.owed_rollback.trigger}), not confirmed yet: ${status.owed_rollback.reason}`,
      );
    if (status.last_rollback)
      lines.push(
        `  rollback:  to ${status.last_rollback.to} at ${status.last_rollback.at} (${status.last_rollback.trigger}): ${status.last_rollback.reason}`,
      );
    const target = status.rollback_target;
    lines.push(
      `  rollback target: ${target.revision ?? 'none known'}${target.window_closes_at ? ` (automatic until ${target.window_closes_at})` : target.note ? ` (${target.note})` : ''}`,
    );
    if (status.bad_revisions.length > 0) lines.push(`  bad:       ${status.bad_revisions.join(', ')}`);
    lines.push(
      `  restore:   ${status.last_backup ? `${status.last_backup.file} (${status.last_backup.source}, ${status.last_backup.at})` : 'no pre-deploy backup'}`,
    );
  }
  lines.push(
    `last backup: ${result.last_backup ? `${result.last_backup.file} (${result.last_backup.at})` : 'none'}`,
  );
  if (result.offsite_backlog)
    lines.push(`off-site backlog: ${describeBacklog(result.offsite_backlog, formatBytes)}`);
  const point = result.recovery_point;
  lines.push(
    point
      ? `recovery point: ${point.at}, ${formatAge(point.ageSeconds)} ago (${point.file}); a restore now loses what was written since`
      : 'recovery point: none (no verified backup: a restore has nothing to go back to)',
  );
  return lines.join('\n');
}
