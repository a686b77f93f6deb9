import { parseProcessTag, processLiveness } from '../util/liveness.js';
import type { WatchRuntime } from './watch-runtime.js';

/**
 * Takes the per-service action lease held while traffic is changed (see src/cli/watch-command.ts
 * for why). A lease whose holder process is gone (killed mid-action: "daemon:<pid>" / "cli:<pid>"
 * on this host) is taken over at once instead of waiting for it to expire. Returns null when the
 * lease is ours, or the live holder that has it.
 */
export function takeActionLease(rt: WatchRuntime, service: string): string | null {
  const holder = acquire(rt, service);
  if (holder === null) rt.live.of(service).acting += 1;
  return holder;
}

function acquire(rt: WatchRuntime, service: string): string | null {
  const now = rt.clock();
  const until = now + rt.operationTimeoutMs + 60_000;
  const holder = rt.store.services.acquireAction(service, rt.owner, until, now);
  if (holder === null || holderAlive(holder)) return holder;
  rt.logger.warn({ service, holder }, 'taking over the action lease of a process that is gone');
  return rt.store.services.takeOverAction(service, holder, rt.owner, until) ? null : holder;
}

/**
 * Runs `work` once every traffic change of `service` this process started before it is done: one
 * at a time per service. The action lease keeps other processes out but lets this one in again (an
 * alert and the watch's trip may overlap), so without turns two rollbacks decided on the same
 * poll both reach Cloud Run: the second reads the service while the first is rolling out, still
 * sees the candidate serving, and sends a second UpdateService. Waiting its turn, the second
 * decides on what the first left (a stale etag is refused and re-read: nothing left to do).
 * `work` must not wait for another turn of the same service (it would wait for itself).
 */
export async function inTurn<T>(rt: WatchRuntime, service: string, work: () => Promise<T>): Promise<T> {
  const live = rt.live.of(service);
  const previous = live.turn;
  let done!: () => void;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  live.turn = previous.then(() => mine);
  await previous;
  try {
    return await work();
  } finally {
    done();
  }
}

/** Releases one hold; the lease itself goes with the last one (an alert and the watch may overlap). */
export function releaseActionLease(rt: WatchRuntime, service: string): void {
  const live = rt.live.of(service);
  live.acting = Math.max(0, live.acting - 1);
  if (live.acting === 0) rt.store.services.releaseAction(service, rt.owner);
}

/**
 * Whether traffic of `service` is being changed right now: by this process (it holds the lease),
 * or by another live process holding an unexpired lease. A lease left by a process that is gone,
 * or by an earlier process with this one's name, does not count.
 */
export function actionInProgress(rt: WatchRuntime, service: string): boolean {
  if (rt.live.of(service).acting > 0) return true;
  const row = rt.store.services.get(service);
  if (!row?.actionOwner || row.actionOwner === rt.owner) return false;
  return (row.actionUntil ?? 0) >= rt.clock() && holderAlive(row.actionOwner);
}

/** A holder is `<kind>:<pid>` (this host's store); only one whose process is gone is not alive. */
function holderAlive(holder: string): boolean {
  const process = parseProcessTag(holder.slice(holder.lastIndexOf(':') + 1));
  return process === undefined || processLiveness(process) !== 'gone';
}
