import type { WatchRuntime } from './watch-runtime.js';

/**
 * Takes the per-service action lease held while traffic is changed (see src/cli/watch-command.ts
 * for why). A lease whose holder process is gone (killed mid-action: "daemon:<pid>" / "cli:<pid>"
 * on this host) is taken over at once instead of waiting for it to expire. Returns null when the
 * lease is ours, or the live holder that has it.
 */
export function takeActionLease(rt: WatchRuntime, service: string): string | null {
  const now = rt.clock();
  const until = now + rt.operationTimeoutMs + 60_000;
  const holder = rt.store.services.acquireAction(service, rt.owner, until, now);
  if (holder === null || holderAlive(holder)) return holder;
  rt.logger.warn({ service, holder }, 'taking over the action lease of a process that is gone');
  return rt.store.services.takeOverAction(service, holder, rt.owner, until) ? null : holder;
}

export function releaseActionLease(rt: WatchRuntime, service: string): void {
  rt.store.services.releaseAction(service, rt.owner);
}

function holderAlive(holder: string): boolean {
  const pid = Number(holder.slice(holder.lastIndexOf(':') + 1));
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user; only ESRCH means it is gone.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
