import type { SchemaChange } from './schema-change.js';

/**
 * Whether an automatic rollback may go ahead when the database schema changed since its target last
 * served: old code on a migrated database can do more harm than the new code's errors. Pure.
 *   rollback: go ahead (the watch's default, minutes after a deploy), said loudly when it changed;
 *   alert: do not move traffic, tell a person what changed and what to run (the guard's default).
 * An unknown change (no fingerprint) does not block: runwarden cannot tell, and says so.
 */
export type SchemaChangePolicy = 'rollback' | 'alert';

export type SchemaGate = { kind: 'go'; loud: boolean; detail: string } | { kind: 'alert'; detail: string };

export function schemaGate(
  policy: SchemaChangePolicy,
  change: Pick<SchemaChange, 'changed' | 'detail'>,
  commands: { service: string; to: string; backup: string | null },
): SchemaGate {
  if (change.changed !== true) return { kind: 'go', loud: false, detail: change.detail };
  if (policy === 'rollback')
    return {
      kind: 'go',
      loud: true,
      detail: `${change.detail}; rolling back anyway (on_schema_change: rollback)`,
    };
  const restore = commands.backup
    ? `runwarden restore ${commands.backup} --all`
    : 'restore the data from the backup taken before the deploy';
  return {
    kind: 'alert',
    detail: `${change.detail}; not rolled back automatically (on_schema_change: alert): either roll back and restore (runwarden rollback --service ${commands.service} --to ${commands.to}, then ${restore}) or fix forward with a new deploy`,
  };
}
