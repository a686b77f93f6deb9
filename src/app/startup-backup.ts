import { readManifestDigest } from '../archive/manifest-read.js';
import type { BackupConfig } from '../config/schema/backup.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import {
  decideStartupBackup,
  type NewestArchive,
  newestArchive,
  type StartupBackupDecision,
} from '../core/startup-backup.js';
import type { EventBus } from '../events/event-bus.js';
import { json, type Route } from '../http/router.js';
import type { BackupsRepo } from '../store/backups-repo.js';
import type { Logger } from '../telemetry/logger.js';
import type { BackupService } from './backup-service.js';
import { newestInBucket } from './bucket-newest.js';
import type { OffsiteService } from './offsite-service.js';

/** How long a failed start-up backup waits before it is tried again. */
export const STARTUP_RETRY_MS = 30_000;

export interface StartupBackupDeps {
  config: BackupConfig;
  /** K_REVISION of this process; undefined outside Cloud Run. */
  revision: string | undefined;
  backups: BackupService;
  /** Off-site copies: the bucket is then the catalog the decision reads, and the copy is awaited. */
  offsite: OffsiteService | undefined;
  catalog: () => BackupsRepo;
  events: EventBus;
  logger: Logger;
  retryMs?: number;
}

type State =
  | { phase: 'checking'; error?: string }
  | { phase: 'backing-up' | 'copying'; why: string; file?: string; error?: string }
  | { phase: 'started'; why: string; file?: string };

export interface StartupBackup {
  /** `GET /startupz`: 200 once started, 503 before (the body says what it waits for). */
  readonly route: Route;
  readonly started: boolean;
  /**
   * Decides (see decideStartupBackup), then takes the backup and waits for its off-site copy to be
   * confirmed, trying a failed backup again every `retryMs` until `signal` aborts. Never rejects
   * but with the signal's reason.
   */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * The backup sidecar's start-up gate: Cloud Run starts the app container only once this sidecar's
 * startup probe passes (`depends_on`), so the data a new revision's migrations change is backed up,
 * and copied out, first.
 */
export function startupBackup(deps: StartupBackupDeps): StartupBackup {
  const logger = deps.logger.child({ component: 'startup' });
  let state: State = { phase: 'checking' };
  const run = async (signal: AbortSignal) => {
    const decision = await retrying(
      signal,
      () => decide(deps, signal),
      'could not read the newest archive',
      (error) => {
        state = { phase: 'checking', error };
      },
    );
    if (!decision.backup) {
      state = { phase: 'started', why: decision.why };
      logger.info({ why: decision.why }, 'started without a backup');
      return;
    }
    logger.info({ why: decision.why }, 'backing up before reporting started');
    state = { phase: 'backing-up', why: decision.why };
    const copies = deps.offsite ? watchCopies(deps.events) : undefined;
    try {
      const taken = await retrying(
        signal,
        () =>
          deps.backups
            .run({ trigger: 'startup', reason: 'pre-deploy' }, { signal })
            .catch((error: unknown) => {
              // A first deploy whose app has not created its databases yet: nothing to protect.
              if (
                decision.noArchiveYet &&
                error instanceof RunwardenError &&
                error.code === 'RW_BACKUP_SOURCE_MISSING'
              )
                return errorMessage(error);
              throw error;
            }),
        'start-up backup failed',
        (error) => {
          state = { phase: 'backing-up', why: decision.why, error };
        },
      );
      if (typeof taken === 'string') {
        state = { phase: 'started', why: `${decision.why}; nothing to back up yet (${taken})` };
        logger.warn({ why: state.why }, 'no data to back up yet; reporting started');
        return;
      }
      if (copies) {
        state = { phase: 'copying', why: decision.why, file: taken.file };
        await copies.confirmed(taken.file, deps.catalog, signal, (error) => {
          state = { phase: 'copying', why: decision.why, file: taken.file, error };
          logger.warn({ file: taken.file, err: error }, 'start-up backup not copied off-site yet');
        });
      }
      state = { phase: 'started', why: decision.why, file: taken.file };
      logger.info({ file: taken.file }, 'start-up backup taken; reporting started');
    } finally {
      copies?.stop();
    }
  };

  async function retrying<T>(
    signal: AbortSignal,
    attempt: () => Promise<T>,
    message: string,
    onError?: (error: string) => void,
  ): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        signal.throwIfAborted();
        logger.error({ err: errorMessage(error), retry_ms: deps.retryMs ?? STARTUP_RETRY_MS }, message);
        onError?.(errorMessage(error));
        await abortableDelay(deps.retryMs ?? STARTUP_RETRY_MS, signal);
      }
    }
  }

  return {
    get started() {
      return state.phase === 'started';
    },
    route: {
      method: 'GET',
      path: '/startupz',
      handler: () =>
        json(state.phase === 'started' ? 200 : 503, { started: state.phase === 'started', ...state }),
    },
    run,
  };
}

async function decide(deps: StartupBackupDeps, signal: AbortSignal): Promise<StartupBackupDecision> {
  const policy = deps.config.before_start;
  // Only `auto` with a revision reads the catalog of record.
  const newest =
    policy === 'auto' && deps.revision !== undefined ? await newestOfRecord(deps, signal) : undefined;
  return decideStartupBackup({ policy, revision: deps.revision, newest });
}

/** The newest archive in the bucket (its metadata names the revision), else in the local catalog. */
async function newestOfRecord(
  deps: StartupBackupDeps,
  signal: AbortSignal,
): Promise<NewestArchive | undefined> {
  if (deps.offsite) {
    const newest = await newestInBucket(await deps.offsite.objectStore(), deps.config, signal);
    return newest && { name: newest.name, revision: newest.revision };
  }
  const verified = deps
    .catalog()
    .list()
    .filter((record) => record.status === 'verified')
    .map((record) => ({ record, takenAt: Date.parse(record.startedAt) }));
  const newest = newestArchive(verified)?.record;
  if (!newest) return undefined;
  // An archive that cannot be read names no revision: back up rather than trust it.
  const read = await readManifestDigest(newest.file, signal).catch(() => undefined);
  return { name: newest.file, revision: read?.manifest.revision };
}

/**
 * Listens for off-site copies from before the backup runs, so a copy confirmed before the backup's
 * promise settles is not missed.
 */
function watchCopies(events: EventBus) {
  const waiting = new Map<string, () => void>();
  const failures = new Map<string, (error: string) => void>();
  const offs = [
    events.on('offsite:copied', (event) => waiting.get(event.file)?.()),
    events.on('offsite:failed', (event) => failures.get(event.file)?.(`${event.code}: ${event.error}`)),
  ];
  return {
    stop: () => {
      for (const off of offs) off();
    },
    /** Resolves once the catalog has the file's copy confirmed; the uploader retries failures itself. */
    confirmed(
      file: string,
      catalog: () => BackupsRepo,
      signal: AbortSignal,
      onFailure: (error: string) => void,
    ): Promise<void> {
      if (catalog().get(file)?.offsite?.confirmedAt) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          signal.removeEventListener('abort', aborted);
          waiting.delete(file);
          failures.delete(file);
          resolve();
        };
        const aborted = () => {
          waiting.delete(file);
          failures.delete(file);
          reject(signal.reason);
        };
        waiting.set(file, done);
        failures.set(file, onFailure);
        signal.addEventListener('abort', aborted, { once: true });
        // Confirmed between the check above and the listeners being set.
        if (catalog().get(file)?.offsite?.confirmedAt) done();
      });
    },
  };
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * Runs the gate as daemon work in the background; stopping the daemon ends it at once (an instance
 * going away owes no start-up backup). Returns the closer that waits for it.
 */
export function runStartupBackup(
  gate: StartupBackup,
  parts: {
    events: EventBus;
    work: { run<T>(name: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> };
    logger: Logger;
  },
): () => Promise<void> {
  const stopping = new AbortController();
  const off = parts.events.on('daemon:stopping', () => stopping.abort(new Error('daemon stopping')));
  const running = parts.work
    .run('startup-backup', (signal) => gate.run(AbortSignal.any([signal, stopping.signal])))
    .catch((error: unknown) => {
      if (!stopping.signal.aborted) parts.logger.error({ err: errorMessage(error) }, 'start-up gate stopped');
    });
  return async () => {
    off();
    stopping.abort(new Error('daemon stopping'));
    await running;
  };
}
