import type { Command } from 'commander';
import { describeBacklog, type OffsiteBacklog, offsiteBacklog } from '../../offsite/backlog.js';
import { formatBytes } from '../../util/format-bytes.js';
import { formatAge, type RecoveryPoint, recoveryPoint } from '../../core/recovery-point.js';
import { type LeaseStatus, readLeases } from '../../lease/lease-status.js';
import { errorMessage } from '../../core/errors.js';
import { type SchemaReading, serviceStatuses, type ServiceStatus } from '../../watch/status.js';
import { type GlobalOptions, withConfigOption, withJsonOption } from '../common.js';
import { printResult } from '../output.js';
import { type StateView, withStateView } from '../read-state.js';
import type { CopyMark } from '../../store/shared-state.js';

/** How long status waits for the bucket before it says a lease could not be read. */
const LEASE_READ_MS = 10_000;

export function registerStatus(program: Command): void {
  withJsonOption(withConfigOption(program.command('status')))
    .description(
      'show each watched service: stable and candidate revisions, watch state, last rollback and backup',
    )
    .action(async (options: GlobalOptions) => {
      // Reads only: works offline, and creates no state folder where there is none.
      let stateDir: string | undefined;
      const result = await withStateView(options, async (view) => {
        if (!view.exists) stateDir = view.config.state_dir;
        const latest = view.store.backups.list()[0];
        // With a cluster only (the one part of status that asks the network): who holds each lease.
        const cluster = await view.clusterStore();
        const leases = cluster ? await readLeases(cluster, AbortSignal.timeout(LEASE_READ_MS)) : undefined;
        const schema = view.services.length > 0 ? await readSchema(view) : undefined;
        return {
          services: serviceStatuses(view.services, view.store, Date.now(), schema).map(servingAsList),
          last_backup: latest
            ? { file: latest.file, at: latest.startedAt, reason: latest.reason, status: latest.status }
            : null,
          // Only with off-site copies configured: the JSON of a status without them is unchanged.
          ...(view.config.backup.offsite
            ? { offsite_backlog: offsiteBacklog(view.store.backups, Date.now()) }
            : {}),
          // Only with `cluster`: the shared copy of the decision state this store last wrote or restored.
          ...(view.config.cluster ? { state_copy: stateCopyOf(view.store.copyMark) } : {}),
          // How much a restore now would lose: everything written since the newest verified archive.
          recovery_point: recoveryPoint(view.store.backups.list(), new Date()),
          ...(leases ? { leases } : {}),
        };
      });
      printResult(result, options.json === true, (data) => describe(data, stateDir));
    });
}

function stateCopyOf(mark: CopyMark | undefined) {
  return mark
    ? { generation: mark.generation, written_at: new Date(mark.writtenAt).toISOString(), holder: mark.holder }
    : null;
}

type StatusRow = Omit<ServiceStatus, 'serving'> & {
  serving: Array<{ revision: string; percent: number }> | null;
};

/**
 * The main and tenant databases' schema, read once for every service (read-only); in the watch
 * role, the bucket's newest manifest's.
 */
async function readSchema(view: StateView): Promise<SchemaReading> {
  try {
    const inspector = await view.schemaInspector();
    if (!inspector) return { error: 'the watch role has no bucket it can read manifests from' };
    return { fingerprint: await inspector.fingerprint(AbortSignal.timeout(30_000)) };
  } catch (error) {
    return { error: errorMessage(error) };
  }
}

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
    state_copy?: ReturnType<typeof stateCopyOf>;
    recovery_point: RecoveryPoint | null;
    leases?: LeaseStatus[];
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
    if (status.schema_drift) lines.push(`  schema:    ${status.schema_drift.detail}`);
    lines.push(
      `  restore:   ${status.last_backup ? `${status.last_backup.file} (${status.last_backup.source}, ${status.last_backup.at})` : 'no pre-deploy backup'}`,
    );
  }
  lines.push(
    `last backup: ${result.last_backup ? `${result.last_backup.file} (${result.last_backup.at})` : 'none'}`,
  );
  if (result.offsite_backlog)
    lines.push(`off-site backlog: ${describeBacklog(result.offsite_backlog, formatBytes)}`);
  if (result.state_copy !== undefined)
    lines.push(
      result.state_copy
        ? `shared state: last copy ${result.state_copy.written_at} (generation ${result.state_copy.generation}, by ${result.state_copy.holder})`
        : 'shared state: never copied to or restored from the cluster bucket',
    );
  const point = result.recovery_point;
  lines.push(
    point
      ? `recovery point: ${point.at}, ${formatAge(point.ageSeconds)} ago (${point.file}); a restore now loses what was written since`
      : 'recovery point: none (no verified backup: a restore has nothing to go back to)',
  );
  for (const lease of result.leases ?? [])
    lines.push(
      `lease ${lease.scope}: ${
        lease.error
          ? `unknown (${lease.error})`
          : lease.holder
            ? `held by ${lease.holder} since ${lease.since} (generation ${lease.generation})`
            : 'held by nobody'
      }`,
    );
  return lines.join('\n');
}
