import path from 'node:path';
import type { PruneOutcome } from '../backup/prune.js';
import type { RetentionConfig } from '../config/schema/backup.js';
import { formatWithin } from '../core/retention.js';
import type { RemotePruneOutcome } from '../offsite/remote-prune.js';

/** `backups prune`'s text: the local plan, then the bucket's when off-site copies are on. */

/** The policy's rules in one line. */
export function describePolicy(retention: RetentionConfig, timezone: string): string {
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

interface Line {
  keep: boolean;
  deleted: boolean;
  error?: string;
  reasons: string[];
  /** ISO-8601 */
  time: string;
  name: string;
}

function planLines(lines: Line[], dryRun: boolean, retained: number, deleted: number): string[] {
  const out: string[] = [];
  for (const line of lines) {
    // Not kept, not deleted, no error: someone else deleted it first (remote side only).
    const action = line.keep
      ? 'keep  '
      : line.deleted || dryRun
        ? 'delete'
        : line.error
          ? 'FAILED'
          : 'gone  ';
    const why = line.error ? `could not delete: ${line.error}` : line.reasons.join(', ');
    out.push(`${action}  ${line.time.slice(0, 19).replace('T', ' ')}  ${line.name}  ${why}`.trimEnd());
  }
  const planned = lines.filter((line) => !line.keep).length;
  out.push(
    dryRun
      ? `dry run: ${lines.length - planned} to keep, ${planned} would be deleted; nothing was deleted`
      : `${retained} kept, ${deleted} deleted`,
  );
  return out;
}

export function describeLocal(outcome: PruneOutcome, policy: string): string {
  const lines = [`policy: ${policy}`];
  if (outcome.decisions.length === 0) lines.push('no cataloged backups');
  const rows = outcome.decisions.map((decision) => ({
    ...decision,
    time: decision.startedAt,
    name: path.basename(decision.file),
  }));
  lines.push(...planLines(rows, outcome.dryRun, outcome.retained, outcome.deleted.length));
  return lines.join('\n');
}

/** The bucket's side; `failed` when it could not be planned (the bucket unreachable, ...). */
export function describeRemote(
  remote: { bucket: string; policy: string } & (RemotePruneOutcome | { failed: string }),
): string {
  const lines = [`bucket ${remote.bucket}`, `policy: ${remote.policy}`];
  if ('failed' in remote) {
    lines.push(`could not prune the bucket: ${remote.failed}`);
    return lines.join('\n');
  }
  if (remote.decisions.length === 0) lines.push('no archive objects');
  if (remote.ignored > 0)
    lines.push(`${remote.ignored} objects under the archive prefix are not archive names: left alone`);
  lines.push(...planLines(remote.decisions, remote.dryRun, remote.retained, remote.deleted.length));
  return lines.join('\n');
}
