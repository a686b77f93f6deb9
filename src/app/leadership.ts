import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClusterConfig } from '../config/schema/cluster.js';
import type { Job, Scheduler } from '../daemon/scheduler.js';
import type { Route } from '../http/router.js';
import { json } from '../http/router.js';
import type { GcsLease, LeaseView } from '../lease/gcs-lease.js';
import { type Leadership, type LeaseScope, soleLeadership } from '../lease/leadership.js';
import type { Logger } from '../telemetry/logger.js';
import type { LeaseMetrics } from '../telemetry/metrics-lease.js';

/**
 * The two leases of a runwarden (`watch`: traffic changes, promotions, alert rollbacks; `backup`:
 * scheduled backups and drills). Without `cluster` both are the sole leadership (always acts). With
 * it they are leases in the cluster bucket, which only the daemon starts: a CLI command built on
 * the same app never takes one, so its automatic actions wait for the daemon that leads (a
 * person's rollback is never gated).
 */
export interface Leaderships {
  readonly clustered: boolean;
  readonly watch: Leadership;
  readonly backup: Leadership;
  /** Each lease as this runwarden sees it (empty without cluster). */
  views(): LeaseView[];
  /**
   * Begins taking and renewing the leases of `scopes` (the daemon's role: a backup sidecar never
   * contends for the watch lease, nor a watcher for the backup one); idempotent.
   */
  start(scopes: readonly LeaseScope[]): void;
  /** Stops acting and releases held leases, so a standby takes over at its next read. */
  stop(): Promise<void>;
}

export interface LeadershipOptions {
  cluster: ClusterConfig | undefined;
  logger: Logger;
  /** The lease metrics, when the daemon exports them. */
  metrics?: LeaseMetrics;
}

/** Builds the leases of the config (nothing is sent until `start`). */
export async function buildLeaderships(options: LeadershipOptions): Promise<Leaderships> {
  const { cluster, logger } = options;
  if (!cluster) {
    return {
      clustered: false,
      watch: soleLeadership('watch'),
      backup: soleLeadership('backup'),
      views: () => [],
      start: () => {},
      stop: async () => {},
    };
  }
  const [{ GcsLease }, { openGcsObjectStore }, { bucketStoreOptions }] = await Promise.all([
    import('../lease/gcs-lease.js'),
    import('../storage/gcs-object-store.js'),
    import('../storage/client-options.js'),
  ]);
  // No client retries: the lease retries on its own rhythm (a tenth of the TTL) and must never wait
  // in the client's backoff past its own deadline.
  const store = await openGcsObjectStore({ ...bucketStoreOptions(cluster), retry: { maxRetries: 0 } });
  // Unique per process start: a restarted runwarden never mistakes its predecessor's lease for its own.
  const holder = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const metrics = options.metrics;
  const lease = (scope: LeaseScope): GcsLease =>
    new GcsLease({
      store,
      scope,
      holder,
      timing: { ttlMs: cluster.lease_ttl, marginMs: cluster.lease_margin },
      logger: logger.child({ component: 'lease' }),
      ...(metrics
        ? {
            observer: {
              tookOver: (taken) => metrics.takeovers.inc({ scope: taken }),
              renewFailed: (failed, code) => metrics.renewFailures.inc({ scope: failed, code }),
              lost: (gone) => metrics.losses.inc({ scope: gone }),
            },
          }
        : {}),
    });
  const leases = { watch: lease('watch'), backup: lease('backup') };
  // Only the leases this runwarden contends for are shown and exported: a sidecar's "not the watch
  // leader" would say nothing about who holds it.
  const started = new Set<LeaseScope>();
  const views = () => [...started].map((scope) => leases[scope].view());
  metrics?.follow(views);
  return {
    clustered: true,
    ...leases,
    views,
    start: (scopes) => {
      for (const scope of scopes) {
        started.add(scope);
        leases[scope].start();
      }
    },
    stop: async () => {
      await Promise.all([leases.watch.stop(), leases.backup.stop()]);
    },
  };
}

/** A scheduled job that runs only while `leadership` may act; a standby skips its turn. */
export function leaderOnly(leadership: Leadership, job: Job, logger: Logger): Job {
  return {
    name: job.name,
    runOnce: async (signal) => {
      if (!leadership.mayAct()) {
        logger.info(
          { job: job.name, scope: leadership.scope },
          'not the leader: scheduled run left to the leader',
        );
        return;
      }
      await job.runOnce(signal);
    },
  };
}

/**
 * Webhook routes answered only by the leader of `scope`: a standby answers 503 with Retry-After
 * (Alertmanager and Cloud Monitoring retry), by when a takeover would be done.
 */
export function leaderRoutes(routes: Route[], leadership: Leadership, retryAfterMs: number): Route[] {
  const retryAfter = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  return routes.map((route) => ({
    ...route,
    handler: (context) => {
      if (leadership.mayAct()) return route.handler(context);
      const answer = json(503, {
        error: 'standby',
        detail: `this runwarden does not hold the ${leadership.scope} lease; the leader answers this`,
      });
      return { ...answer, headers: { ...answer.headers, 'retry-after': retryAfter } };
    },
  }));
}

/** Nudges every watch tick at once when this runwarden starts leading: what is owed is settled first. */
export function tickOnTakeover(
  leadership: Leadership,
  scheduler: Scheduler,
  ticks: ReadonlyArray<Job & { nudge(fire: () => void): void }>,
): () => void {
  return leadership.onChange((leader) => {
    if (!leader) return;
    for (const tick of ticks) tick.nudge(() => scheduler.fire(tick));
  });
}
