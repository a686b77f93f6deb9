import type { Db } from './db.js';
import type { ReceivedAlert } from '../core/alert.js';

/**
 * How an alert that asked for a rollback ended; 'pending' while its rollback runs. 'refused' and
 * 'cooldown' did not act; the others acted, joined an action ('coalesced') or found nothing to do
 * ('already_on_target': traffic already on the last known good revision).
 */
export type DeliveryOutcome =
  | 'pending'
  | 'rolled_back'
  | 'dry_run'
  | 'already_on_target'
  | 'refused'
  | 'cooldown'
  | 'coalesced';

export interface DeliveryRecord {
  dedupeKey: string;
  source: string;
  fingerprint: string;
  alertName: string;
  service: string;
  labels: Record<string, string>;
  /** ISO-8601 UTC. */
  receivedAt: string;
  outcome: DeliveryOutcome;
  toRevision: string | null;
  detail: string | null;
}

/** Outcomes that did not act: a repeat of such an alert is decided again instead of swallowed. */
export const DECIDED_AGAIN: readonly DeliveryOutcome[] = ['refused', 'cooldown'];

interface Row {
  dedupe_key: string;
  source: string;
  fingerprint: string;
  alert_name: string;
  service: string;
  labels: string;
  received_at: string;
  outcome: DeliveryOutcome;
  to_revision: string | null;
  detail: string | null;
}

/**
 * The alert receivers' memory (tables of migration 005). Every method is synchronous: with one
 * process and better-sqlite3, a claim is atomic with respect to every other request.
 */
export class AlertsRepo {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Claims an alert's dedupe key for `service`. True: the caller decides (and maybe acts): this is
   * the first delivery, or every earlier one was refused (a refusal's reason may be gone by the
   * repeat). False: the alert was acted on or is being acted on, so it must not act again.
   * A claim received before `forgetBefore` (the dedupe window) counts as forgotten, as if
   * `prune(forgetBefore)` had run first, so the receiver can prune after acting, not before.
   */
  claim(alert: ReceivedAlert, service: string, now: Date, forgetBefore?: Date): boolean {
    const result = this.#db
      .prepare(
        `INSERT INTO alert_deliveries (dedupe_key, source, fingerprint, alert_name, service, labels, received_at, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')
         ON CONFLICT (dedupe_key) DO UPDATE SET
           service = excluded.service, labels = excluded.labels, received_at = excluded.received_at,
           outcome = 'pending', to_revision = NULL, detail = NULL
         WHERE alert_deliveries.outcome IN (${DECIDED_AGAIN.map((outcome) => `'${outcome}'`).join(', ')})
            OR alert_deliveries.received_at < ?`,
      )
      .run(
        alert.dedupeKey,
        alert.source,
        alert.fingerprint,
        alert.name,
        service,
        JSON.stringify(alert.labels),
        now.toISOString(),
        // No window: nothing is older than the epoch's start.
        (forgetBefore ?? new Date(0)).toISOString(),
      );
    return result.changes === 1;
  }

  /** Records how a claimed alert ended. */
  settle(
    dedupeKey: string,
    outcome: Exclude<DeliveryOutcome, 'pending'>,
    toRevision?: string,
    detail?: string,
  ) {
    this.#db
      .prepare('UPDATE alert_deliveries SET outcome = ?, to_revision = ?, detail = ? WHERE dedupe_key = ?')
      .run(outcome, toRevision ?? null, detail ?? null, dedupeKey);
  }

  /** Forgets a claim whose rollback failed, so the sender's next delivery of it can act. */
  release(dedupeKey: string): void {
    this.#db.prepare('DELETE FROM alert_deliveries WHERE dedupe_key = ?').run(dedupeKey);
  }

  /** Forgets alerts received before `before`; a delivery after that acts again. */
  prune(before: Date): number {
    return this.#db.prepare('DELETE FROM alert_deliveries WHERE received_at < ?').run(before.toISOString())
      .changes;
  }

  /** Claims left 'pending' by a process that stopped mid-rollback: released, so a retry can act. */
  releasePending(): number {
    return this.#db.prepare("DELETE FROM alert_deliveries WHERE outcome = 'pending'").run().changes;
  }

  get(dedupeKey: string): DeliveryRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM alert_deliveries WHERE dedupe_key = ?').get(dedupeKey) as
      | Row
      | undefined;
    return row && toRecord(row);
  }

  /** Newest first. */
  list(limit = 100): DeliveryRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM alert_deliveries ORDER BY received_at DESC, id DESC LIMIT ?')
      .all(limit) as Row[];
    return rows.map(toRecord);
  }

  /** When an alert last made `service` roll back (or dry-run one), ms since the epoch. */
  lastActedAt(service: string): number | undefined {
    const at = this.#db
      .prepare('SELECT acted_at FROM alert_cooldowns WHERE service = ?')
      .pluck()
      .get(service) as string | undefined;
    return at === undefined ? undefined : Date.parse(at);
  }

  recordAction(service: string, at: Date, dryRun: boolean): void {
    this.#db
      .prepare(
        `INSERT INTO alert_cooldowns (service, acted_at, dry_run) VALUES (?, ?, ?)
         ON CONFLICT (service) DO UPDATE SET acted_at = excluded.acted_at, dry_run = excluded.dry_run`,
      )
      .run(service, at.toISOString(), dryRun ? 1 : 0);
  }
}

function toRecord(row: Row): DeliveryRecord {
  return {
    dedupeKey: row.dedupe_key,
    source: row.source,
    fingerprint: row.fingerprint,
    alertName: row.alert_name,
    service: row.service,
    labels: JSON.parse(row.labels) as Record<string, string>,
    receivedAt: row.received_at,
    outcome: row.outcome,
    toRevision: row.to_revision,
    detail: row.detail,
  };
}
