import { EventEmitter } from 'node:events';
import type {
  BackupCompletedEvent,
  BackupFailedEvent,
  BackupStartedEvent,
  BackupsPrunedEvent,
} from './backup-events.js';
import type { DrillCompletedEvent, DrillFailedEvent } from './drill-events.js';
import type { ConfigCheckedEvent, DaemonReadyEvent, DaemonStoppingEvent } from './daemon-events.js';
import type {
  OffsiteBacklogEvent,
  OffsiteCopiedEvent,
  OffsiteFailedEvent,
  OffsitePrunedEvent,
} from './offsite-events.js';
import type { RestoreCompletedEvent, RestoreFailedEvent } from './restore-events.js';
import type {
  InsufficientDataEvent,
  PromotionEvent,
  RollbackCompletedEvent,
  RollbackEventBase,
  RollbackFailedEvent,
  RollbackRefusedEvent,
  RuleAlertEvent,
  WatchEndedEvent,
  WatchEventBase,
  WatchFailureEvent,
  WatchHeldEvent,
  CandidateEvent,
  ReleaseStepEvent,
  WatchStartedEvent,
} from './watch-events.js';

/**
 * Everything runwarden does is announced as a typed event; metrics, notifications, the audit history
 * and tests subscribe instead of being called directly. Payloads live in one file per job beside
 * this one (backup-, restore-, drill-, watch-, daemon-events.ts); this map names them.
 */
export interface RunwardenEvents {
  'daemon:ready': DaemonReadyEvent;
  'daemon:stopping': DaemonStoppingEvent;
  /** A configuration check finished (at start, then hourly): every problem it found, none when healthy. */
  'config:checked': ConfigCheckedEvent;
  /** A backup run began (before it waits for the backup lock); `completed` or `failed` follows. */
  'backup:started': BackupStartedEvent;
  /** A backup was written, verified, renamed into place and cataloged. */
  'backup:completed': BackupCompletedEvent;
  /** A backup failed; no partial archive is left. */
  'backup:failed': BackupFailedEvent;
  /** A database or the media folder was restored. */
  'restore:completed': RestoreCompletedEvent;
  /** A restore was refused or failed. */
  'restore:failed': RestoreFailedEvent;
  /** A restore drill restored the newest verified archive aside and found it whole. */
  'drill:completed': DrillCompletedEvent;
  /** A restore drill found a difference or could not run. */
  'drill:failed': DrillFailedEvent;
  /** Retention ran: how many backups it kept and which archives it deleted. */
  'backups:pruned': BackupsPrunedEvent;
  /** An archive's copy in the bucket was confirmed. */
  'offsite:copied': OffsiteCopiedEvent;
  /** Copying an archive failed; it stays in the backlog and is tried again later. */
  'offsite:failed': OffsiteFailedEvent;
  /** What is still waiting to be copied, after each pass of the uploader. */
  'offsite:backlog': OffsiteBacklogEvent;
  /** Remote retention ran over the bucket's copies. */
  'offsite:pruned': OffsitePrunedEvent;
  // Deploy watch; payloads and their contracts in watch-events.ts.
  /** First sight of a service: the revision serving all of it is taken as the known good one. */
  'watch:baseline': WatchEventBase;
  /** A new revision is being watched (a deploy, or a change of which revision serves). */
  'watch:started': WatchStartedEvent;
  /** The candidate passed its window clean (or a person promoted it): it is now the stable revision. */
  'watch:promoted': PromotionEvent;
  /** An alert-only rule tripped (CPU, memory); nothing is rolled back. Once per rule per watch. */
  'watch:alert': RuleAlertEvent;
  /** Rollback rules lacked data at the deadline; the payload names the policy applied. Once per watch. */
  'watch:insufficient-data': InsufficientDataEvent;
  /** A watch ended without promotion or rollback (superseded, cancelled, inconclusive, failed...). */
  'watch:ended': WatchEndedEvent;
  /** Frozen service, or a bad revision serving: seen and deliberately not acted on. */
  'watch:held': WatchHeldEvent;
  /** A tagged no-traffic candidate passed or failed its probes and smoke checks, or cannot be reached. */
  'watch:candidate': CandidateEvent;
  /** Automatic promotion gave the candidate the next step of traffic. */
  'watch:step': ReleaseStepEvent;
  /** A poll, metric read, backup or promotion failed (a failure to act); the watch goes on. */
  'watch:failure': WatchFailureEvent;
  /** Traffic is being sent back (UpdateService accepted); `completed` or `failed` follows. */
  'rollback:started': RollbackEventBase;
  'rollback:completed': RollbackCompletedEvent;
  'rollback:failed': RollbackFailedEvent;
  /** A rollback was asked for and not done (no stable revision, cooldown, frozen...). */
  'rollback:refused': RollbackRefusedEvent;
}

type Listener<T> = (payload: T) => void;

export class EventBus<Events extends object = RunwardenEvents> {
  readonly #emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#emitter.setMaxListeners(100);
  }

  on<K extends keyof Events & string>(name: K, listener: Listener<Events[K]>): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }

  /**
   * Like `on`, but the listener runs before every other, whenever they subscribed: for the audit
   * history, so the listeners after it (a notification naming `runwarden report --rollback ID`)
   * find the event already recorded.
   */
  onFirst<K extends keyof Events & string>(name: K, listener: Listener<Events[K]>): () => void {
    this.#emitter.prependListener(name, listener);
    return () => this.#emitter.off(name, listener);
  }

  /**
   * Calls every listener synchronously. A throwing listener is reported through `onListenerError`
   * and never interrupts the job that emitted (a failing notifier must not block a rollback).
   */
  emit<K extends keyof Events & string>(name: K, payload: Events[K]): void {
    for (const listener of this.#emitter.listeners(name)) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.onListenerError(name, error);
      }
    }
  }

  /** Resolves with the next payload of `name` that satisfies `match`; rejects when `signal` aborts. */
  next<K extends keyof Events & string>(
    name: K,
    match: (payload: Events[K]) => boolean = () => true,
    signal?: AbortSignal,
  ): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const off = this.on(name, (payload) => {
        if (!match(payload)) return;
        off();
        resolve(payload);
      });
      signal?.addEventListener(
        'abort',
        () => {
          off();
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  onListenerError: (name: string, error: unknown) => void = () => {};
}
