import type { OffsiteConfig } from '../config/schema/offsite.js';
import { offsiteRetryDelay } from '../core/offsite-backoff.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import type { EventBus } from '../events/event-bus.js';
import { readManifestDigest } from '../archive/manifest-read.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { BackupRecord, BackupsRepo } from '../store/backups-repo.js';
import type { Logger } from '../telemetry/logger.js';
import { copyOffsite } from './copy-offsite.js';
import { offsiteObjectName, offsiteObjectUrl } from './offsite-options.js';

export type OffsiteCatalog = Pick<
  BackupsRepo,
  'offsitePending' | 'confirmOffsite' | 'recordOffsiteFailure' | 'recordManifestSha256'
>;

export interface OffsiteUploaderDeps {
  /** Opened on first use: a daemon whose backlog is empty never loads the storage client. */
  store: () => Promise<ObjectStore>;
  catalog: () => OffsiteCatalog;
  config: OffsiteConfig;
  events: EventBus;
  logger: Logger;
  clock?: () => number;
}

/** One pass over the backlog. */
export interface DrainOutcome {
  copied: string[];
  failed: Array<{ file: string; code: string; error: string }>;
  /** Still waiting after the pass (failed ones included), oldest first. */
  pending: number;
}

/**
 * Copies verified archives to the bucket, oldest first, and records each confirmed copy in the
 * catalog. The backlog is the catalog itself (archives without a confirmed copy), so it survives
 * restarts, and a copy killed halfway is simply tried again: copyOffsite never overwrites and
 * confirms a copy an earlier attempt landed. A failure is recorded with its error and the time of
 * the next attempt (offsiteRetryDelay); nothing is ever dropped from the backlog but by a confirmed
 * copy or by the archive leaving the catalog. With `encryption.recipients` each copy is the
 * archive encrypted with age, named `<archive>.age` (see copyOffsite).
 */
export class OffsiteUploader {
  readonly #deps: OffsiteUploaderDeps;
  readonly #clock: () => number;
  readonly #inFlight = new Set<string>();
  #wake: (() => void) | undefined;
  #kicked = false;

  constructor(deps: OffsiteUploaderDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
  }

  /** Asks the running loop for a pass now (a backup was just cataloged). */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** Copies every archive that is due, `concurrency` at once; never throws for one archive's failure. */
  async drain(signal: AbortSignal): Promise<DrainOutcome> {
    const catalog = this.#deps.catalog();
    const due = catalog
      .offsitePending(new Date(this.#clock()))
      .filter((record) => !this.#inFlight.has(record.file));
    const outcome: DrainOutcome = { copied: [], failed: [], pending: 0 };
    let next = 0;
    const worker = async () => {
      while (next < due.length && !signal.aborted) {
        const record = due[next++] as BackupRecord;
        await this.#copyOne(record, signal, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#deps.config.concurrency, due.length) }, worker));
    signal.throwIfAborted();
    outcome.pending = this.announceBacklog();
    return outcome;
  }

  /**
   * Passes until `signal` aborts: one at once (the backlog a restart left), then whenever kicked or
   * when the earliest retry falls due.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#kicked = false;
      try {
        await this.drain(signal);
      } catch (error) {
        if (signal.aborted) return;
        // The catalog itself failed (the store, not one archive): logged, tried again later.
        this.#deps.logger.error({ err: error }, 'off-site copy pass failed');
      }
      if (this.#kicked) continue;
      await this.#sleepUntilDue(signal);
    }
  }

  async #copyOne(record: BackupRecord, signal: AbortSignal, outcome: DrainOutcome): Promise<void> {
    const { config, events, logger } = this.#deps;
    const catalog = this.#deps.catalog();
    const started = this.#clock();
    this.#inFlight.add(record.file);
    try {
      const store = await this.#deps.store();
      const { manifestSha256, revision } = await this.#manifestFacts(record, signal);
      const recipients = config.encryption?.recipients;
      const copy = await copyOffsite(
        store,
        {
          file: record.file,
          size: record.size,
          sha256: record.sha256,
          manifestSha256,
          ...(revision ? { revision } : {}),
        },
        offsiteObjectName(record.file, recipients !== undefined),
        signal,
        {
          readBack: config.read_back,
          timeoutMs: config.upload_timeout,
          clock: this.#clock,
          ...(config.storage_class ? { storageClass: config.storage_class } : {}),
          ...(recipients ? { encryptTo: recipients } : {}),
        },
      );
      const objectName = offsiteObjectUrl(config, copy.objectName);
      catalog.confirmOffsite(record.file, {
        objectName,
        generation: copy.generation,
        confirmedAt: new Date(copy.confirmedAt),
      });
      const durationMs = this.#clock() - started;
      logger.info(
        {
          file: record.file,
          object: objectName,
          generation: copy.generation,
          outcome: copy.outcome,
          duration_ms: durationMs,
        },
        'archive copied off-site and confirmed',
      );
      events.emit('offsite:copied', {
        file: record.file,
        objectName,
        generation: copy.generation,
        size: copy.size,
        durationMs,
        outcome: copy.outcome,
        confirmedAt: copy.confirmedAt,
      });
      outcome.copied.push(record.file);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const attempts = (record.offsite?.attempts ?? 0) + 1;
      const nextAttemptAt = this.#clock() + offsiteRetryDelay(attempts);
      const code = error instanceof RunwardenError ? error.code : 'RW_OFFSITE_FAILED';
      const message = errorMessage(error);
      catalog.recordOffsiteFailure(record.file, message, new Date(nextAttemptAt));
      logger.warn(
        {
          file: record.file,
          code,
          err: message,
          attempts,
          next_attempt_at: new Date(nextAttemptAt).toISOString(),
        },
        'off-site copy failed; the archive stays in the backlog and is kept locally',
      );
      events.emit('offsite:failed', {
        file: record.file,
        code,
        error: message,
        attempts,
        nextAttemptAt,
        durationMs: this.#clock() - started,
      });
      outcome.failed.push({ file: record.file, code, error: message });
    } finally {
      this.#inFlight.delete(record.file);
    }
  }

  /** A row cataloged before manifests were hashed: read it now, and record it for next time. */
  /**
   * The manifest's digest (recorded in the catalog when the row predates it) and the revision it
   * names: read from the archive (its central directory and manifest.json, a few KB), since the
   * catalog does not keep the revision.
   */
  async #manifestFacts(
    record: BackupRecord,
    signal: AbortSignal,
  ): Promise<{ manifestSha256: string; revision: string | undefined }> {
    let read: Awaited<ReturnType<typeof readManifestDigest>>;
    try {
      read = await readManifestDigest(record.file, signal);
    } catch (error) {
      // A file gone or changed: the copy's own checks name it (RW_OFFSITE_LOCAL_CHANGED).
      if (record.manifestSha256 === null) throw error;
      return { manifestSha256: record.manifestSha256, revision: undefined };
    }
    if (record.manifestSha256 === null)
      this.#deps.catalog().recordManifestSha256(record.file, record.sha256, read.sha256);
    return { manifestSha256: record.manifestSha256 ?? read.sha256, revision: read.manifest.revision };
  }

  /**
   * Emits `offsite:backlog` with what waits now; returns the count. Each pass ends with it; the
   * daemon also calls it at start, so the backlog a restart left shows before the first pass ends.
   */
  announceBacklog(): number {
    const pending = this.#deps.catalog().offsitePending();
    const oldest = pending[0];
    this.#deps.events.emit('offsite:backlog', {
      count: pending.length,
      bytes: pending.reduce((sum, record) => sum + record.size, 0),
      ...(oldest ? { oldestStartedAt: Date.parse(oldest.startedAt) } : {}),
    });
    return pending.length;
  }

  async #sleepUntilDue(signal: AbortSignal): Promise<void> {
    const times = this.#deps
      .catalog()
      .offsitePending()
      .filter((record) => !this.#inFlight.has(record.file))
      .map((record) => (record.offsite?.nextAttemptAt ? Date.parse(record.offsite.nextAttemptAt) : 0));
    const nextDue = times.length > 0 ? Math.min(...times) : Number.POSITIVE_INFINITY;
    // Timers hold at most ~24.8 days; an hour is the longest retry anyway.
    // At least a second: a pass that could not copy what was due never turns into a busy loop.
    const waitMs = Math.max(1_000, Math.min(nextDue - this.#clock(), 3_600_000));
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
      if (this.#kicked) done();
    });
  }
}
