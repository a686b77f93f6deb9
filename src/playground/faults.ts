import { UsageError } from '../core/errors.js';

/** The gRPC methods the emulator serves, by their short names; faults are injected per method. */
export const EMULATED_METHODS = [
  'GetService',
  'ListServices',
  'UpdateService',
  'GetRevision',
  'ListRevisions',
  'GetOperation',
  'ListTimeSeries',
] as const;

export type EmulatedMethod = (typeof EMULATED_METHODS)[number];

export const FAULT_CODES = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'PERMISSION_DENIED',
  'ABORTED',
  'NOT_FOUND',
  'INTERNAL',
  'RESOURCE_EXHAUSTED',
  'UNAUTHENTICATED',
] as const;

export type FaultCode = (typeof FAULT_CODES)[number];

/**
 * What the next `times` calls of a method get: a delay (ms) before anything else, then a failure
 * with `code` if one is given (a delay alone slows the call down and lets it succeed).
 */
export interface Fault {
  code?: FaultCode;
  delayMs?: number;
  /** How many calls the fault applies to; 1 when omitted. */
  times?: number;
  message?: string;
}

/** Faults waiting for their calls, consumed in the order they were injected. */
export class FaultInjector {
  readonly #queues = new Map<EmulatedMethod, Array<Required<Pick<Fault, 'times'>> & Fault>>();

  /** Queues `fault` for `method`; UsageError names a bad method, code, delay or count. */
  inject(method: string, fault: Fault): void {
    const known = checkMethod(method);
    if (fault.code !== undefined && !FAULT_CODES.includes(fault.code)) {
      throw new UsageError(`fault code "${fault.code}" is not one of ${FAULT_CODES.join(', ')}`);
    }
    const times = fault.times ?? 1;
    if (!Number.isInteger(times) || times < 1)
      throw new UsageError(`fault times must be a whole number >= 1, got ${times}`);
    const delayMs = fault.delayMs ?? 0;
    if (!Number.isFinite(delayMs) || delayMs < 0)
      throw new UsageError(`fault delayMs must be >= 0, got ${delayMs}`);
    if (fault.code === undefined && delayMs === 0)
      throw new UsageError('a fault needs a code, a delayMs, or both');
    const queue = this.#queues.get(known) ?? [];
    queue.push({ ...fault, times });
    this.#queues.set(known, queue);
  }

  /** Drops the faults of `method`, or of every method. */
  clear(method?: string): void {
    if (method === undefined) this.#queues.clear();
    else this.#queues.delete(checkMethod(method));
  }

  /** The fault the next call of `method` gets, if any (counts the call against it). */
  take(method: EmulatedMethod): Fault | undefined {
    const queue = this.#queues.get(method);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.times -= 1;
    if (head.times <= 0) queue.shift();
    return head;
  }

  /** Calls still to be affected, per method (for the control API's view of the state). */
  pending(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [method, queue] of this.#queues) {
      const count = queue.reduce((sum, fault) => sum + fault.times, 0);
      if (count > 0) out[method] = count;
    }
    return out;
  }
}

function checkMethod(method: string): EmulatedMethod {
  // Accept "GetService" as well as "google.cloud.run.v2.Services/GetService".
  const short = method.slice(Math.max(method.lastIndexOf('/'), method.lastIndexOf('.')) + 1);
  const known = EMULATED_METHODS.find((candidate) => candidate === short);
  if (!known)
    throw new UsageError(`unknown method "${method}"; faults apply to ${EMULATED_METHODS.join(', ')}`);
  return known;
}
