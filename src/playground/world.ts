import type { IdentityAuthority, ServiceAccess } from './identity.js';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Behaviour } from './behaviour.js';
import { invalid, notFound, PlaygroundError } from './playground-error.js';
import { RevisionApp } from './revision-app.js';
import { ServiceRouter } from './traffic-router.js';
import {
  resolveStatuses,
  routingSplit,
  shortRevisionName,
  type TrafficStatus,
  type TrafficTarget,
  trafficAfterDeploy,
  validateTraffic,
} from './traffic-spec.js';

export interface RevisionRecord {
  /** Short name (`shop-00002-xyz`). */
  name: string;
  service: string;
  uid: string;
  /** 1, 2, ... in the order the service created them. */
  index: number;
  createTime: number;
  image: string;
  app: RevisionApp;
}

export interface ServiceRecord {
  name: string;
  uid: string;
  createTime: number;
  updateTime: number;
  generation: number;
  /** The generation whose traffic is being served; lower than `generation` while an update runs. */
  observedGeneration: number;
  etag: string;
  /** The traffic asked for (Service.traffic). */
  traffic: TrafficTarget[];
  /** The traffic being served (Service.trafficStatuses). */
  statuses: TrafficStatus[];
  /** Oldest first. */
  revisions: RevisionRecord[];
  latestReady: string | undefined;
  router: ServiceRouter;
  /** null: public (allUsers may invoke); else who may invoke it and the audiences it accepts. */
  access: ServiceAccess | null;
}

export interface WorldOptions {
  project: string;
  region: string;
  host: string;
  samplePeriodMs: number;
  clock: () => number;
  /** Checks ID tokens sent to private services. */
  authority: IdentityAuthority;
}

/** Requests one revision served with one status code. */
export interface ServedCount {
  service: string;
  revision: string;
  code: number;
  count: number;
}

/**
 * The emulated Cloud Run project: services, their revisions (each a running app) and their traffic.
 * Both the gRPC API and the control API change it only through these methods.
 */
export class World {
  readonly options: WorldOptions;
  readonly services = new Map<string, ServiceRecord>();
  /** Every UpdateService the emulator accepted, in order (see Playground.trafficUpdates). */
  readonly trafficUpdates: Array<{ service: string; at: number; wallAt: number }> = [];

  constructor(options: WorldOptions) {
    this.options = options;
  }

  /** Creates an empty service (its router listens at once; it has no revision to serve yet). */
  async addService(name: string): Promise<ServiceRecord> {
    if (!/^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/.test(name)) throw invalid(`service name "${name}" is not valid`);
    if (this.services.has(name)) throw new PlaygroundError('FAILED_PRECONDITION', `service ${name} exists`);
    const router = await ServiceRouter.start({
      host: this.options.host,
      metricsText: () => this.#metricsText(name),
      // Cloud Run checks the caller in front of every revision: IAM is set on the service.
      gate: (authorization) => {
        const access = this.services.get(name)?.access;
        return access ? this.options.authority.check(authorization, router.url, access) : undefined;
      },
    });
    const now = this.options.clock();
    const record: ServiceRecord = {
      name,
      uid: randomUUID(),
      createTime: now,
      updateTime: now,
      generation: 0,
      observedGeneration: 0,
      etag: newEtag(),
      traffic: [],
      statuses: [],
      revisions: [],
      latestReady: undefined,
      router,
      access: null,
    };
    this.services.set(name, record);
    return record;
  }

  service(name: string): ServiceRecord {
    const record = this.services.get(name);
    if (!record) throw notFound(`service ${name} not found`);
    return record;
  }

  /** Finds a revision by short or full name. */
  revision(name: string): RevisionRecord {
    const short = shortRevisionName(name);
    for (const service of this.services.values()) {
      const found = service.revisions.find((revision) => revision.name === short);
      if (found) return found;
    }
    throw notFound(`revision ${short} not found`);
  }

  /**
   * Deploys a new revision with `behaviour` and moves traffic as `gcloud run deploy` would (see
   * trafficAfterDeploy). Resolves once the revision app listens and the router serves the new split.
   */
  async deploy(
    serviceName: string,
    options: { behaviour: Behaviour; noTraffic?: boolean; tag?: string; name?: string; image?: string },
  ): Promise<RevisionRecord> {
    const service = this.service(serviceName);
    const index = service.revisions.length + 1;
    const name = options.name ?? `${service.name}-${String(index).padStart(5, '0')}-${randomLetters(3)}`;
    if (this.#revisionExists(name)) throw invalid(`revision ${name} already exists`);
    const app = await RevisionApp.start({
      revision: name,
      behaviour: options.behaviour,
      host: this.options.host,
      samplePeriodMs: this.options.samplePeriodMs,
      clock: this.options.clock,
    });
    const revision: RevisionRecord = {
      name,
      service: service.name,
      uid: randomUUID(),
      index,
      createTime: this.options.clock(),
      image: options.image ?? `europe-docker.pkg.dev/${this.options.project}/apps/${service.name}:v${index}`,
      app,
    };
    const previousLatest = service.latestReady;
    const traffic = trafficAfterDeploy(service.traffic, previousLatest, name, options);
    service.revisions.push(revision);
    service.latestReady = name;
    const generation = this.#bump(service, traffic);
    await this.applyTraffic(service.name, generation, traffic);
    return revision;
  }

  setBehaviour(revisionName: string, behaviour: Behaviour): void {
    this.revision(revisionName).app.behaviour = behaviour;
  }

  /**
   * Accepts a traffic change: validates it, checks `etag` when given (stale: ABORTED), records it as
   * the service's new spec and returns its generation. It is served once applyTraffic runs.
   */
  beginTrafficUpdate(serviceName: string, targets: readonly TrafficTarget[], etag?: string): number {
    const service = this.service(serviceName);
    if (etag && etag !== service.etag) {
      throw new PlaygroundError('ABORTED', `etag ${etag} is stale; service ${service.name} has changed`);
    }
    const valid = validateTraffic(
      targets,
      service.revisions.map((revision) => revision.name),
    );
    return this.#bump(service, valid);
  }

  /** Serves `traffic` of `generation`, unless a newer generation is already being served. */
  async applyTraffic(
    serviceName: string,
    generation: number,
    traffic: readonly TrafficTarget[],
  ): Promise<void> {
    const service = this.service(serviceName);
    if (generation <= service.observedGeneration || service.latestReady === undefined) return;
    const statuses = resolveStatuses(traffic, service.latestReady);
    const appUrl = (revision: string) => this.revision(revision).app.url;
    await service.router.route({
      split: routingSplit(statuses).map((share) => ({ ...share, url: appUrl(share.revision) })),
      tags: new Map(
        statuses.filter((status) => status.tag).map((status) => [status.tag!, appUrl(status.revision)]),
      ),
    });
    service.statuses = statuses;
    service.observedGeneration = generation;
  }

  async setTraffic(serviceName: string, targets: readonly TrafficTarget[]): Promise<void> {
    const generation = this.beginTrafficUpdate(serviceName, targets);
    await this.applyTraffic(serviceName, generation, this.service(serviceName).traffic);
  }

  served(filter: { service?: string; revision?: string } = {}): ServedCount[] {
    const out: ServedCount[] = [];
    for (const service of this.services.values()) {
      if (filter.service !== undefined && service.name !== filter.service) continue;
      for (const revision of service.revisions) {
        if (filter.revision !== undefined && revision.name !== shortRevisionName(filter.revision)) continue;
        for (const [code, count] of revision.app.log.totals()) {
          out.push({ service: service.name, revision: revision.name, code, count });
        }
      }
    }
    return out.sort((a, b) => a.revision.localeCompare(b.revision) || a.code - b.code);
  }

  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const service of this.services.values()) {
      closing.push(service.router.close());
      for (const revision of service.revisions) closing.push(revision.app.close());
    }
    await Promise.all(closing);
  }

  #bump(service: ServiceRecord, traffic: TrafficTarget[]): number {
    service.generation += 1;
    service.traffic = traffic;
    service.etag = newEtag();
    service.updateTime = this.options.clock();
    return service.generation;
  }

  #revisionExists(name: string): boolean {
    return [...this.services.values()].some((service) => service.revisions.some((rev) => rev.name === name));
  }

  #metricsText(serviceName: string): string {
    const lines = [
      '# HELP emulated_requests_total Requests the emulated app served, by revision and status code.',
      '# TYPE emulated_requests_total counter',
    ];
    for (const served of this.served({ service: serviceName })) {
      lines.push(
        `emulated_requests_total{service="${served.service}",revision="${served.revision}",code="${served.code}"} ${served.count}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

function newEtag(): string {
  return `"${randomBytes(9).toString('base64url')}"`;
}

function randomLetters(count: number): string {
  const bytes = randomBytes(count);
  return [...bytes].map((byte) => String.fromCharCode(97 + (byte % 26))).join('');
}
