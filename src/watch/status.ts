import type { TestVerdict } from '../core/candidate-test.js';
import { AUTH_FAILED_KEY } from '../core/watch-machine.js';
import type { WatchStatus } from '../core/watch-types.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import type { WatchStore } from '../store/store.js';
import { compareSchema, type SchemaFingerprint } from '../core/schema-change.js';
import { restorePointOf } from './restore-points.js';
import { defaultTarget } from './rollback-target.js';
import type { WatchedService } from './watched-service.js';

/** One service as `runwarden status` shows it; times are ISO-8601 UTC. */
export interface ServiceStatus {
  service: string;
  cloud_run: string;
  mode: 'enforce' | 'dry-run';
  frozen: boolean;
  frozen_reason: string | null;
  stable: { revision: string; since: string | null; reason: string | null } | null;
  /** What the last poll saw being served (revision -> percent), and when. */
  serving: Record<string, number> | null;
  polled_at: string | null;
  watch: {
    id: number;
    candidate: string;
    stable: string | null;
    started_at: string;
    deadline: string;
    tripped: string[];
    /** The health probes' own credentials were refused during this watch (announced once). */
    auth_failed: boolean;
    restore_point: string | null;
    /**
     * A tagged no-traffic candidate's test at its tag URL (testing, passed, failed) or why it cannot
     * be tested (unreachable: no tag); null for a candidate that served traffic at once.
     */
    candidate_test: CandidateTestStatus | null;
    /** The release step automatic promotion reached; null before (or without it). */
    release_step: { step: number; of: number; percent: number; started_at: string } | null;
  } | null;
  last_watch: {
    id: number;
    candidate: string;
    status: WatchStatus;
    ended_at: string | null;
    reason: string | null;
    candidate_test: CandidateTestStatus | null;
  } | null;
  /**
   * An automatic rollback decided but not confirmed (the daemon stopped mid-update, or the API
   * failed): the daemon carries it out first on its next tick, unless someone changes the traffic.
   */
  owed_rollback: {
    to: string;
    from: string[];
    trigger: 'watch' | 'alert' | 'guard';
    reason: string;
    decided_at: string;
    watch_id: number | null;
  } | null;
  /** The last rollback that changed traffic (any trigger), from the history. */
  last_rollback: { at: string; to: string; trigger: string; reason: string } | null;
  bad_revisions: string[];
  /**
   * Where `runwarden rollback` without --to sends traffic: during a watch the stable revision, else
   * the known good one before the serving revision; with the serving revision's rollback window
   * (until when the guard and alerts may roll back by themselves), null when none is open.
   */
  rollback_target: { revision: string | null; window_closes_at: string | null; note: string | null };
  /** The known-good history, newest first: revision, how it became known good, when. */
  known_good: Array<{ revision: string; how: string; at: string }>;
  last_backup: { file: string; at: string; source: string } | null;
  /**
   * Whether the main or any tenant database's schema changed since the restore point a rollback
   * would name, and which tenants did; null when the schema was not read.
   */
  schema_drift: { changed: boolean | null; tenants: string[]; detail: string } | null;
}

/** The application's schema read once for every service's status, or why it could not be read. */
export type SchemaReading = { fingerprint: SchemaFingerprint | null } | { error: string };

export interface CandidateTestStatus {
  verdict: TestVerdict;
  detail: string;
  at: string;
}

/** The state of every configured service, from the store alone (no Cloud Run call: works offline). */
export function serviceStatuses(
  services: readonly WatchedService[],
  store: WatchStore,
  now = Date.now(),
  schema?: SchemaReading,
): ServiceStatus[] {
  return services.map((service) => {
    const row = store.services.get(service.key);
    const open = store.watches.open(service.key) ?? null;
    const last = store.watches.recent(service.key, 2).find((watch) => watch.status !== 'watching') ?? null;
    const owed = store.owed.get(service.key);
    return {
      service: service.key,
      cloud_run: `${service.ref.project}/${service.ref.region}/${service.ref.service}`,
      mode: service.config.mode,
      frozen: row?.frozen ?? false,
      frozen_reason: row?.frozenReason ?? null,
      stable: row?.stableRevision
        ? { revision: row.stableRevision, since: iso(row.stableSince), reason: row.stableReason }
        : null,
      serving: row?.snapshot?.serving ?? null,
      polled_at: iso(row?.polledAt ?? null),
      watch: open && {
        id: open.id,
        candidate: open.candidate,
        stable: open.stable,
        started_at: iso(open.startedAt) as string,
        deadline: iso(open.deadline) as string,
        tripped: open.tripped,
        auth_failed: open.announced.includes(AUTH_FAILED_KEY),
        restore_point: open.restorePoint?.backup ?? null,
        candidate_test: testOf(open),
        release_step: open.release?.step
          ? {
              step: open.release.step.index + 1,
              of: service.config.release.steps.length,
              percent: open.release.step.percent,
              started_at: iso(open.release.step.startedAt) as string,
            }
          : null,
      },
      last_watch: last && {
        id: last.id,
        candidate: last.candidate,
        status: last.status,
        ended_at: iso(last.endedAt),
        reason: last.endReason,
        candidate_test: testOf(last),
      },
      owed_rollback: owed
        ? {
            to: owed.to,
            from: owed.from,
            trigger: owed.trigger,
            reason: owed.reason,
            decided_at: iso(owed.decidedAt) as string,
            watch_id: owed.watchId,
          }
        : null,
      last_rollback: lastRollback(store, service.key),
      bad_revisions: store.revisions
        .list(service.key)
        .filter((mark) => mark.verdict === 'bad')
        .map((mark) => mark.revision),
      ...targetOf(store, service, now),
      last_backup: lastBackup(store, service.key, open ?? last),
      schema_drift: schema ? driftOf(store, service.key, open, schema) : null,
    };
  });
}

function targetOf(
  store: WatchStore,
  service: WatchedService,
  now: number,
): Pick<ServiceStatus, 'rollback_target' | 'known_good'> {
  const target = defaultTarget(store, service, now);
  const window = target.window;
  return {
    rollback_target: {
      revision: target.to,
      window_closes_at: window.open ? iso(window.closesAt) : null,
      note: target.watching
        ? 'a candidate is watched: its rollback goes to the stable revision'
        : window.open
          ? null
          : window.detail,
    },
    known_good: target.knownGood
      .map((entry) => ({ revision: entry.revision, how: entry.how, at: iso(entry.at) as string }))
      .reverse(),
  };
}

function driftOf(
  store: WatchStore,
  key: string,
  open: WatchRecord | null,
  schema: SchemaReading,
): ServiceStatus['schema_drift'] {
  if ('error' in schema)
    return { changed: null, tenants: [], detail: `schema not compared: ${schema.error}` };
  const change = compareSchema(restorePointOf(store, key, open).fingerprint, schema.fingerprint);
  return { changed: change.changed, tenants: change.tenants, detail: change.detail };
}

function lastBackup(store: WatchStore, key: string, watch: WatchRecord | null): ServiceStatus['last_backup'] {
  const point = watch?.restorePoint;
  const predeploy = store.predeploys.latest(key);
  const fromWatch =
    point?.backup && point.takenAt ? { file: point.backup, at: point.takenAt, source: point.source } : null;
  const fromPredeploy =
    predeploy?.backupFile && predeploy.error === null
      ? { file: predeploy.backupFile, at: predeploy.at, source: 'predeploy' }
      : null;
  const newest = [fromWatch, fromPredeploy].filter((entry) => entry !== null).sort((a, b) => b.at - a.at)[0];
  return newest ? { file: newest.file, at: iso(newest.at) as string, source: newest.source } : null;
}

function lastRollback(store: WatchStore, key: string): ServiceStatus['last_rollback'] {
  const real = (entry: { kind: string; detail: unknown }) =>
    entry.kind === 'rollback:completed' && (entry.detail as { dryRun?: boolean }).dryRun !== true;
  const entry = store.history.list({ service: key, limit: 500 }).reverse().find(real);
  const detail = entry?.detail as { to?: string; trigger?: string } | undefined;
  if (!entry || !detail?.to) return null;
  return {
    at: iso(entry.at) as string,
    to: detail.to,
    trigger: detail.trigger ?? 'unknown',
    reason: entry.message,
  };
}

function testOf(watch: WatchRecord): CandidateTestStatus | null {
  const test = watch.release?.test;
  return test ? { verdict: test.verdict, detail: test.detail, at: iso(test.at) as string } : null;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
