import { Counter, Gauge, type Registry } from 'prom-client';

/** What the lease metrics read at each scrape: each lease as this runwarden sees it. */
export interface LeaseSnapshot {
  scope: string;
  leader: boolean;
  /** The holder named by the lease object as last read or written; undefined: nobody holds it. */
  holder?: string | undefined;
}

/**
 * The leader leases (cluster only): who holds each, whether this runwarden is the one, takeovers,
 * failed renews and losses. The gauges are read at scrape time from `follow`'s source, so they
 * never lag the lease. Without a cluster none of these series exist.
 */
export function leaseMetrics(registry: Registry) {
  let source: () => LeaseSnapshot[] = () => [];
  const isLeader = new Gauge({
    name: 'runwarden_lease_is_leader',
    help: '1 while this runwarden holds the lease of the scope (watch, backup) and may act; 0 while it is a standby.',
    labelNames: ['scope'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const lease of source()) this.set({ scope: lease.scope }, lease.leader ? 1 : 0);
    },
  });
  const holder = new Gauge({
    name: 'runwarden_lease_holder',
    help: 'Always 1, labelled with the holder the lease object names as this runwarden last saw it; no series while nobody holds it.',
    labelNames: ['scope', 'holder'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const lease of source())
        if (lease.holder !== undefined) this.set({ scope: lease.scope, holder: lease.holder }, 1);
    },
  });
  return {
    isLeader,
    holder,
    takeovers: new Counter({
      name: 'runwarden_lease_takeovers_total',
      help: 'Times this runwarden took the lease of the scope (its first take included).',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    renewFailures: new Counter({
      name: 'runwarden_lease_renew_failures_total',
      help: 'Renew requests of a held lease that failed (503, timeout, ...) and were retried within the TTL.',
      labelNames: ['scope', 'code'] as const,
      registers: [registry],
    }),
    losses: new Counter({
      name: 'runwarden_lease_losses_total',
      help: 'Times this runwarden lost a lease it held (another wrote it, or its deadline passed without a renew).',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    /** Reads the leases from `leases` at each scrape. */
    follow(leases: () => LeaseSnapshot[]): void {
      source = leases;
    },
  };
}

export type LeaseMetrics = ReturnType<typeof leaseMetrics>;
