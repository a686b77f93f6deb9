import type { OperationStore } from './operations.js';
import { page } from './paging.js';
import { invalid, notFound } from './playground-error.js';
import type { LoadedProtos } from './protos.js';
import { revisionMessage, serviceMessage } from './run-resources.js';
import { type TrafficTarget, validateTraffic } from './traffic-spec.js';
import type { World } from './world.js';

/** A unary handler: the decoded request in, the response object out; a PlaygroundError fails the call. */
export type UnaryHandler = (request: Record<string, unknown>) => Promise<object>;

const SERVICE_TYPE_URL = 'type.googleapis.com/google.cloud.run.v2.Service';

/**
 * Cloud Run Admin API v2 (Services, Revisions) and the google.longrunning.Operations its
 * UpdateService returns. Only traffic is applied from UpdateService: the template is ignored, since
 * new revisions come from the control API (they need a behaviour, which Cloud Run has no field for).
 */
export function runHandlers(
  world: World,
  operations: OperationStore,
  protos: LoadedProtos,
): Record<
  'GetService' | 'ListServices' | 'UpdateService' | 'GetRevision' | 'ListRevisions' | 'GetOperation',
  UnaryHandler
> {
  const anyService = (serviceName: string) => ({
    typeUrl: SERVICE_TYPE_URL,
    value: protos.encodeService(serviceMessage(world, world.service(serviceName))),
  });

  return {
    GetService: async (request) => {
      const name = serviceFromName(world, String(request.name ?? ''));
      return serviceMessage(world, world.service(name));
    },

    ListServices: async (request) => {
      checkParent(world, String(request.parent ?? ''));
      const all = [...world.services.values()].map((service) => serviceMessage(world, service));
      const { items, nextPageToken } = page(all, request, { defaultSize: 100, maxSize: 1000 });
      return { services: items, nextPageToken, unreachable: [] };
    },

    UpdateService: async (request) => {
      const given = request.service as Record<string, unknown> | undefined;
      if (!given?.name) throw invalid('service.name is required');
      const name = serviceFromName(world, String(given.name));
      const mask = (request.updateMask as { paths?: string[] } | undefined)?.paths ?? [];
      const current = world.service(name);
      const traffic =
        mask.length > 0 && !mask.includes('traffic') ? current.traffic : trafficFromRequest(given.traffic);
      if (request.validateOnly) {
        validateTraffic(
          traffic,
          current.revisions.map((revision) => revision.name),
        );
        const service = anyService(name);
        return {
          name: `${serviceResourceNameOf(given.name)}/operations/validate-only`,
          metadata: service,
          done: true,
          response: service,
        };
      }
      const generation = world.beginTrafficUpdate(
        name,
        traffic,
        typeof given.etag === 'string' ? given.etag : '',
      );
      const accepted = world.service(name).traffic;
      world.trafficUpdates.push({ service: name, at: performance.now(), wallAt: Date.now() });
      return operations.start(anyService(name), async () => {
        await world.applyTraffic(name, generation, accepted);
        return anyService(name);
      });
    },

    GetRevision: async (request) => {
      const { service, revision } = revisionFromName(world, String(request.name ?? ''));
      const record = world.service(service).revisions.find((candidate) => candidate.name === revision);
      if (!record) throw notFound(`revision ${request.name} not found`);
      return revisionMessage(world, record);
    },

    ListRevisions: async (request) => {
      const service = world.service(serviceFromName(world, String(request.parent ?? '')));
      // Newest first, as Cloud Run lists them.
      const all = [...service.revisions].reverse().map((revision) => revisionMessage(world, revision));
      const { items, nextPageToken } = page(all, request, { defaultSize: 100, maxSize: 1000 });
      return { revisions: items, nextPageToken };
    },

    GetOperation: async (request) => operations.poll(String(request.name ?? '')),
  };
}

function serviceResourceNameOf(name: unknown): string {
  return String(name).replace(/\/services\/[^/]+$/, '');
}

function checkParent(world: World, parent: string): void {
  const expected = `projects/${world.options.project}/locations/${world.options.region}`;
  if (parent !== expected) throw notFound(`location ${parent} not found (the playground has ${expected})`);
}

function serviceFromName(world: World, name: string): string {
  const match = /^(projects\/[^/]+\/locations\/[^/]+)\/services\/([^/]+)$/.exec(name);
  if (!match) throw invalid(`"${name}" is not a service name (projects/P/locations/L/services/S)`);
  checkParent(world, match[1]!);
  return match[2]!;
}

function revisionFromName(world: World, name: string): { service: string; revision: string } {
  const match = /^(projects\/[^/]+\/locations\/[^/]+\/services\/[^/]+)\/revisions\/([^/]+)$/.exec(name);
  if (!match)
    throw invalid(`"${name}" is not a revision name (projects/P/locations/L/services/S/revisions/R)`);
  return { service: serviceFromName(world, match[1]!), revision: match[2]! };
}

function trafficFromRequest(raw: unknown): TrafficTarget[] {
  const list = Array.isArray(raw) ? (raw as Array<Record<string, unknown>>) : [];
  // An update without traffic means Cloud Run's default: everything to the latest ready revision.
  if (list.length === 0) return [{ type: 'LATEST', percent: 100 }];
  return list.map((target, index) => {
    const type = String(target.type ?? '').replace('TRAFFIC_TARGET_ALLOCATION_TYPE_', '');
    if (type !== 'REVISION' && type !== 'LATEST') {
      throw invalid(
        `service.traffic[${index}].type: expected REVISION or LATEST, got ${String(target.type)}`,
      );
    }
    return {
      type,
      percent: Number(target.percent ?? 0),
      ...(target.revision ? { revision: String(target.revision) } : {}),
      ...(target.tag ? { tag: String(target.tag) } : {}),
    };
  });
}
