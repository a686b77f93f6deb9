import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ServiceMemory } from '../core/watch-types.js';
import { AlertsRepo } from './alerts-repo.js';
import { BackupsRepo } from './backups-repo.js';
import { OffsiteCopiesRepo } from './offsite-copies-repo.js';
import { connect, connectInMemory, migrate, schemaVersion } from './connect.js';
import type { Db } from './db.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/migration.js';
import { RestoresRepo } from './restores-repo.js';
import {
  type CopyMark,
  changeToken,
  hasSharedState,
  type RestoredState,
  readCopyMark,
  replaceSharedState,
  sharedImage,
  snapshotBytes,
  writeCopyMark,
} from './shared-state.js';
import { EvaluationsRepo } from './watch/evaluations-repo.js';
import { HistoryRepo } from './watch/history-repo.js';
import { KnownGoodRepo } from './watch/known-good-repo.js';
import { OwedRollbacksRepo } from './watch/owed-rollbacks-repo.js';
import { PredeploysRepo } from './watch/predeploys-repo.js';
import { RevisionsRepo } from './watch/revisions-repo.js';
import { ServicesRepo } from './watch/services-repo.js';
import { type WatchRecord, WatchesRepo } from './watch/watches-repo.js';

export const STORE_FILE = 'runwarden.db';

/**
 * `deferred` (the default) takes the write lock at the first write; `immediate` takes it at the
 * start, so what the transaction reads cannot change before it writes, whoever else writes.
 */
export type TransactionMode = 'deferred' | 'immediate';

/**
 * runwarden's own state: one SQLite file in WAL mode under the state folder. The store owns the
 * handle: it hands out its repositories and runs transactions over them; nobody else touches it.
 * Each repository method is one statement (atomic alone); `transaction` groups several.
 */
export class Store {
  readonly #db: Db;
  readonly file: string;
  /** The catalog of backup archives. */
  readonly backups: BackupsRepo;
  /** Confirmed off-site copies, kept after local retention deletes their archives' rows. */
  readonly offsiteCopies: OffsiteCopiesRepo;
  /** Restores done, for the audit. */
  readonly restores: RestoresRepo;
  /** Alerts received: dedupe, cooldown and what was done. */
  readonly alerts: AlertsRepo;
  /** The deploy watch: per service its stable revision, frozen flag and action lease. */
  readonly services: ServicesRepo;
  /** Revisions marked good or bad. */
  readonly revisions: RevisionsRepo;
  /** The known-good history as a list: every baseline, promotion and rollback target. */
  readonly knownGood: KnownGoodRepo;
  readonly watches: WatchesRepo;
  readonly evaluations: EvaluationsRepo;
  readonly predeploys: PredeploysRepo;
  readonly history: HistoryRepo;
  /** Rollbacks decided but not confirmed: finished first on the next tick or start. */
  readonly owed: OwedRollbacksRepo;

  private constructor(db: Db, file: string) {
    this.#db = db;
    this.file = file;
    this.backups = new BackupsRepo(db);
    this.offsiteCopies = new OffsiteCopiesRepo(db);
    this.restores = new RestoresRepo(db);
    this.alerts = new AlertsRepo(db);
    this.services = new ServicesRepo(db);
    this.revisions = new RevisionsRepo(db);
    this.knownGood = new KnownGoodRepo(db);
    this.watches = new WatchesRepo(db);
    this.evaluations = new EvaluationsRepo(db);
    this.predeploys = new PredeploysRepo(db);
    this.history = new HistoryRepo(db);
    this.owed = new OwedRollbacksRepo(db);
  }

  /**
   * Opens (creating if needed) and migrates the store. Refuses a store written by a newer
   * runwarden: its schema would be silently misread, and downgrading could lose data.
   */
  static open(stateDir: string, migrations: readonly Migration[] = MIGRATIONS): Store {
    const file = path.join(stateDir, STORE_FILE);
    const db = connect(file, () => mkdirSync(stateDir, { recursive: true }), {});
    return Store.#migrated(db, file, () => migrate(db, migrations, file));
  }

  /**
   * For commands that only read: the store if `stateDir` holds one, else undefined, and nothing is
   * created either way (no folder, no file). A store of the current schema is not written to; an
   * older one is migrated as any command would; a newer one is refused as by `open`.
   */
  static openExisting(stateDir: string, migrations: readonly Migration[] = MIGRATIONS): Store | undefined {
    const file = path.join(stateDir, STORE_FILE);
    if (!existsSync(file)) return undefined;
    const db = connect(file, () => {}, { fileMustExist: true });
    return Store.#migrated(db, file, () => {
      if (schemaVersion(db) !== (migrations.at(-1)?.version ?? 0)) migrate(db, migrations, file);
    });
  }

  /** An empty store in memory, for a command that reads when no state exists yet. */
  static empty(migrations: readonly Migration[] = MIGRATIONS): Store {
    const db = connectInMemory();
    migrate(db, migrations, ':memory:');
    return new Store(db, ':memory:');
  }

  static #migrated(db: Db, file: string, upgrade: () => void): Store {
    try {
      upgrade();
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db, file);
  }

  /** The schema version the store is at (the last migration applied). */
  get schemaVersion(): number {
    return schemaVersion(this.#db);
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  /**
   * Stops this connection's commits from checkpointing the WAL. By default SQLite checkpoints inside
   * whichever commit takes the WAL past 1,000 pages, two fsyncs included (20-60 ms on a busy disk):
   * in the daemon that may be an alert's dedupe claim or a rollback's action lease, on their way to
   * UpdateService. The owner then calls `checkpoint()` when nothing waits for the store. Commits
   * survive a process crash as before (WAL, synchronous NORMAL); closing checkpoints the rest.
   */
  deferCheckpoints(): void {
    if (!this.#db.memory) this.#db.pragma('wal_autocheckpoint = 0');
  }

  /**
   * Copies the WAL into the database file now, fsyncs included. PASSIVE: it waits for no reader
   * and no writer (another process's), copying what it can. Costs nothing when nothing is new.
   */
  checkpoint(): CheckpointResult {
    if (this.#db.memory) return { walPages: 0, checkpointedPages: 0 };
    const [row] = this.#db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
    return { walPages: row?.log ?? 0, checkpointedPages: row?.checkpointed ?? 0 };
  }

  /**
   * Runs `work` in one transaction and returns what it returns: every write in it lands, or none
   * does (it rolls back when `work` throws, and the error is rethrown). Nested calls are savepoints.
   * `work` must be synchronous: SQLite holds the transaction only while it runs.
   */
  transaction<T>(work: () => T, mode: TransactionMode = 'deferred'): T {
    const run = this.#db.transaction(work);
    return mode === 'immediate' ? run.immediate() : run();
  }

  /** Everything the watch's core needs about a service, read in one transaction (a consistent view). */
  memory(service: string): ServiceMemory & { watch: WatchRecord | null } {
    return this.transaction(() => {
      const row = this.services.get(service);
      return {
        stable: row?.stableRevision ?? null,
        bad: this.revisions.bad(service),
        frozen: row?.frozen ?? false,
        lastAutoRollbackAt: row?.lastAutoRollbackAt ?? null,
        snapshot: row?.snapshot ?? null,
        watch: this.watches.open(service) ?? null,
      };
    });
  }

  /**
   * Changes when anything was written since it was last read: by this process or another (a CLI
   * command). Reads no table; for a copier deciding whether a copy is due.
   */
  changeToken(): string {
    return changeToken(this.#db);
  }

  /** The whole store as one consistent SQLite file image (see shared-state.ts). */
  snapshot(): Buffer {
    return snapshotBytes(this.#db);
  }

  /** The decision state as one consistent SQLite image, for the shared copy (see shared-state.ts). */
  sharedSnapshot(): Buffer {
    return sharedImage(this.#db, this.file);
  }

  /** Whether any decision state is stored (false on a fresh disk). */
  hasSharedState(): boolean {
    return hasSharedState(this.#db);
  }

  /** The shared copy this store last wrote or was restored from, if any. */
  get copyMark(): CopyMark | undefined {
    return readCopyMark(this.#db);
  }

  /** Records the shared copy just written from this store. */
  markCopied(mark: CopyMark): void {
    writeCopyMark(this.#db, mark);
  }

  /**
   * Replaces the decision state with the one in the store file `copy` (same schema version), in one
   * transaction, and records `mark`; host-local tables (the backup catalog) are kept.
   */
  restoreSharedState(copy: string, mark: CopyMark): RestoredState {
    return replaceSharedState(this.#db, copy, mark);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

/** What a WAL checkpoint found: pages in the WAL, and how many of them are now in the database file. */
export interface CheckpointResult {
  walPages: number;
  checkpointedPages: number;
}

/** What the deploy watch uses of the store. */
export type WatchStore = Pick<
  Store,
  | 'services'
  | 'revisions'
  | 'knownGood'
  | 'watches'
  | 'evaluations'
  | 'predeploys'
  | 'history'
  | 'owed'
  | 'memory'
  | 'transaction'
>;
