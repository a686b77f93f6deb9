import type { ServiceMemory } from '../../core/watch-types.js';
import type { Db } from '../store.js';
import { EvaluationsRepo } from './evaluations-repo.js';
import { HistoryRepo } from './history-repo.js';
import { OwedRollbacksRepo } from './owed-rollbacks-repo.js';
import { PredeploysRepo } from './predeploys-repo.js';
import { RevisionsRepo } from './revisions-repo.js';
import { ServicesRepo } from './services-repo.js';
import { type WatchRecord, WatchesRepo } from './watches-repo.js';

/** The deploy watch's repositories over one store connection. */
export class WatchStore {
  readonly services: ServicesRepo;
  readonly revisions: RevisionsRepo;
  readonly watches: WatchesRepo;
  readonly evaluations: EvaluationsRepo;
  readonly predeploys: PredeploysRepo;
  readonly history: HistoryRepo;
  /** Rollbacks decided but not confirmed: finished first on the next tick or start. */
  readonly owed: OwedRollbacksRepo;

  constructor(readonly db: Db) {
    this.services = new ServicesRepo(db);
    this.revisions = new RevisionsRepo(db);
    this.watches = new WatchesRepo(db);
    this.evaluations = new EvaluationsRepo(db);
    this.predeploys = new PredeploysRepo(db);
    this.history = new HistoryRepo(db);
    this.owed = new OwedRollbacksRepo(db);
  }

  /** Everything the core needs about a service, read in one transaction (a consistent view). */
  memory(service: string): ServiceMemory & { watch: WatchRecord | null } {
    return this.db.transaction(() => {
      const row = this.services.get(service);
      return {
        stable: row?.stableRevision ?? null,
        bad: this.revisions.bad(service),
        frozen: row?.frozen ?? false,
        lastAutoRollbackAt: row?.lastAutoRollbackAt ?? null,
        snapshot: row?.snapshot ?? null,
        watch: this.watches.open(service) ?? null,
      };
    })();
  }
}
