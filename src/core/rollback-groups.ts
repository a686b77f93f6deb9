/** A history entry as far as grouping needs it. */
interface Entry {
  id: number;
  service: string;
  kind: string;
}

/**
 * Groups rollback entries made outside any watch (a person's or an alert's) into one rollback each:
 * `rollback:started` opens one for its service, `completed` or `failed` closes it (or stands alone
 * when nothing was open: an owed rollback found done), `refused` is one by itself. Entries oldest
 * first; groups in the order they began.
 */
export function groupRollbacks<T extends Entry>(entries: readonly T[]): T[][] {
  const groups: T[][] = [];
  const open = new Map<string, T[]>();
  for (const entry of entries) {
    const current = open.get(entry.service);
    if (entry.kind === 'rollback:started') {
      const group = [entry];
      groups.push(group);
      open.set(entry.service, group);
    } else if ((entry.kind === 'rollback:completed' || entry.kind === 'rollback:failed') && current) {
      current.push(entry);
      open.delete(entry.service);
    } else {
      groups.push([entry]);
    }
  }
  return groups;
}
