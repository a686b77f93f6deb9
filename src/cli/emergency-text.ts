import type { BackupRecord } from '../store/backups-repo.js';
import type { IdentifiedProbe } from '../watch/probe-identity.js';
import type { RollbackOutcome } from '../watch/rollback-request.js';
import type { EmergencyOverview } from '../watch/emergency-overview.js';

/** The lines `runwarden emergency` prints about one service before proposing anything. */
export function overviewLines(overview: EmergencyOverview): string[] {
  const lines = [`== ${overview.service}`];
  lines.push(
    `  serving:        ${
      overview.serving.ok
        ? overview.serving.value.map(({ revision, percent }) => `${revision} ${percent}%`).join(', ') ||
          'nothing'
        : `unavailable: ${overview.serving.reason}`
    }`,
  );
  lines.push(`  known good:     ${overview.stable ?? 'none known (runwarden does not guess one)'}`);
  if (overview.errors.ok) {
    const minutes = Math.round(overview.errors.value.windowMs / 60_000);
    for (const row of overview.errors.value.byRevision)
      lines.push(
        `  errors:         ${row.revision}: ${row.errors5xx} 5xx of ${row.requests} requests in the last ${minutes} min (Cloud Monitoring)`,
      );
  } else {
    lines.push(`  errors:         unavailable: ${overview.errors.reason}`);
  }
  if (overview.evaluations.length === 0) lines.push('  runwarden saw:   no rule evaluation recorded');
  else {
    lines.push('  runwarden saw:  (newest evaluations first)');
    for (const entry of overview.evaluations.slice(0, 5))
      lines.push(`    ${new Date(entry.at).toISOString()} ${entry.rule}: ${entry.verdict}: ${entry.detail}`);
  }
  const point = overview.restorePoint;
  lines.push(
    `  restore point:  ${point.backup ? `${point.backup} (${point.source}${point.takenAt ? `, ${new Date(point.takenAt).toISOString()}` : ''})` : 'none'}${point.note ? `; ${point.note}` : ''}`,
  );
  lines.push(`  schema drift:   ${point.schemaDetail}`);
  return lines;
}

export function backupLines(backups: readonly BackupRecord[]): string[] {
  if (backups.length === 0) return ['newest backups: none'];
  return [
    'newest backups:',
    ...backups.map((backup) => `  ${backup.file} (${backup.status}, ${backup.reason}, ${backup.startedAt})`),
  ];
}

export function probeLine(service: string, probe: IdentifiedProbe): string {
  const answer = probe.status !== undefined ? `HTTP ${probe.status}` : (probe.error ?? 'no answer');
  return `  ${service}: /health ${probe.ok ? 'healthy' : 'unhealthy'} (${answer}, ${Math.round(probe.durationMs)} ms)`;
}

export function rollbackLine(service: string, outcome: RollbackOutcome): string {
  switch (outcome.kind) {
    case 'rolled_back':
      return outcome.confirmed
        ? `${service}: all traffic now goes to ${outcome.to} (was ${outcome.from.join(', ')})`
        : `${service}: traffic update to ${outcome.to} sent, but Cloud Run does not show it serving 100 % yet`;
    case 'dry_run':
      return `${service}: dry run (mode: dry-run): would send all traffic to ${outcome.to}`;
    case 'noop':
      return `${service}: all traffic already goes to ${outcome.to}`;
    case 'refused':
      return `${service}: not rolled back (${outcome.reason}): ${outcome.detail}`;
  }
}
