import type { HealthSample } from '../core/rules.js';
import type { SchemaFingerprint } from '../core/schema-change.js';
import type { ServiceObservation } from '../core/watch-types.js';

const PROBES_KEPT = 50;

/** What the daemon holds in memory about a service between ticks; the store holds what must survive. */
export interface LiveService {
  observation: ServiceObservation | null;
  /** The poll is failing: the failure was announced once and is not repeated until it recovers. */
  pollFailing: boolean;
  /** The main database's schema at the previous tick: the baseline when a deploy is detected. */
  fingerprint: SchemaFingerprint | null;
  /** Newest last, per target ("service", "tag"): bounded. */
  probes: Map<string, HealthSample[]>;
  /** Changes of this service's traffic this process is making right now (action leases it holds). */
  acting: number;
  /**
   * Settles when the traffic change this process started last for this service is done: the next
   * one waits for it (see inTurn in action-lease.ts).
   */
  turn: Promise<void>;
  /** The first probe since start ran (its refusal, if any, was reported at once). */
  authChecked: boolean;
  /**
   * What the guard announced about the serving revision, reset when it changes: refusals, failures
   * (`announced`) and the alert rules still unhealthy since they were announced (`alerted`).
   */
  guard: { revision: string | null; announced: Set<string>; alerted: Set<string> };
}

/** In-memory state per service, shared by the watch tick and the probe job. */
export class LiveState {
  readonly #services = new Map<string, LiveService>();
  /**
   * Reading the schema fails (the databases, or in the watch role the bucket): said once when it
   * starts failing and once when it works again, not by every service's tick (one shared reader).
   */
  schemaFailing = false;
  /** Rollbacks of any service this process is deciding or carrying out now (see requestRollback). */
  rollbacksRunning = 0;

  of(service: string): LiveService {
    let live = this.#services.get(service);
    if (!live) {
      live = {
        observation: null,
        pollFailing: false,
        fingerprint: null,
        probes: new Map(),
        acting: 0,
        turn: Promise.resolve(),
        authChecked: false,
        guard: { revision: null, announced: new Set(), alerted: new Set() },
      };
      this.#services.set(service, live);
    }
    return live;
  }

  recordProbe(service: string, sample: HealthSample): void {
    const probes = this.of(service).probes;
    const list = probes.get(sample.target) ?? [];
    list.push(sample);
    if (list.length > PROBES_KEPT) list.splice(0, list.length - PROBES_KEPT);
    probes.set(sample.target, list);
  }

  /** Probe samples of the given targets, oldest first. */
  probesOf(service: string, targets: readonly string[]): HealthSample[] {
    const probes = this.of(service).probes;
    return targets.flatMap((target) => probes.get(target) ?? []).sort((a, b) => a.at - b.at);
  }
}
