import type { RevisionRecord, ServiceRecord, World } from './world.js';

/**
 * How the emulated world looks through the Cloud Run Admin API v2: plain objects shaped like the
 * protos' Service and Revision messages (camelCase fields, enums by name, int64 as strings).
 */

export function timestamp(ms: number): { seconds: string; nanos: number } {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

export function serviceResourceName(world: World, service: string): string {
  return `projects/${world.options.project}/locations/${world.options.region}/services/${service}`;
}

export function revisionResourceName(world: World, service: string, revision: string): string {
  return `${serviceResourceName(world, service)}/revisions/${revision}`;
}

const PLAYGROUND_ACCOUNT = 'deployer@playground.iam.gserviceaccount.com';

function readyCondition(type: string, ready: boolean, at: number) {
  return {
    type,
    state: ready ? 'CONDITION_SUCCEEDED' : 'CONDITION_RECONCILING',
    lastTransitionTime: timestamp(at),
    severity: 'ERROR',
  };
}

function allocationType(type: 'REVISION' | 'LATEST'): string {
  return `TRAFFIC_TARGET_ALLOCATION_TYPE_${type}`;
}

export function serviceMessage(world: World, service: ServiceRecord): object {
  const reconciling = service.observedGeneration < service.generation;
  const latest = service.revisions.at(-1);
  const latestName = (name: string | undefined) =>
    name === undefined ? '' : revisionResourceName(world, service.name, name);
  return {
    name: serviceResourceName(world, service.name),
    uid: service.uid,
    generation: String(service.generation),
    labels: {},
    annotations: {},
    createTime: timestamp(service.createTime),
    updateTime: timestamp(service.updateTime),
    creator: PLAYGROUND_ACCOUNT,
    lastModifier: PLAYGROUND_ACCOUNT,
    ingress: 'INGRESS_TRAFFIC_ALL',
    launchStage: 'GA',
    template: {
      containers: latest
        ? [{ name: 'app', image: latest.image, ports: [{ name: 'http1', containerPort: 8080 }] }]
        : [],
      scaling: { minInstanceCount: 0, maxInstanceCount: 100 },
      maxInstanceRequestConcurrency: 80,
    },
    traffic: service.traffic.map((target) => ({
      type: allocationType(target.type),
      revision: target.revision ?? '',
      percent: target.percent,
      tag: target.tag ?? '',
    })),
    observedGeneration: String(service.observedGeneration),
    terminalCondition: readyCondition('Ready', !reconciling, service.updateTime),
    conditions: [
      readyCondition('ConfigurationsReady', true, service.updateTime),
      readyCondition('RoutesReady', !reconciling, service.updateTime),
    ],
    latestReadyRevision: latestName(service.latestReady),
    latestCreatedRevision: latestName(latest?.name),
    trafficStatuses: service.statuses.map((status) => ({
      type: allocationType(status.type),
      revision: status.revision,
      percent: status.percent,
      tag: status.tag ?? '',
      uri: status.tag ? (service.router.tagUrl(status.tag) ?? '') : '',
    })),
    uri: service.router.url,
    urls: [service.router.url],
    reconciling,
    etag: service.etag,
  };
}

export function revisionMessage(world: World, revision: RevisionRecord): object {
  return {
    name: revisionResourceName(world, revision.service, revision.name),
    uid: revision.uid,
    generation: '1',
    labels: {},
    annotations: {},
    createTime: timestamp(revision.createTime),
    updateTime: timestamp(revision.createTime),
    launchStage: 'GA',
    service: serviceResourceName(world, revision.service),
    scaling: { minInstanceCount: 0, maxInstanceCount: 100 },
    containers: [{ name: 'app', image: revision.image, ports: [{ name: 'http1', containerPort: 8080 }] }],
    maxInstanceRequestConcurrency: 80,
    timeout: { seconds: '300', nanos: 0 },
    serviceAccount: PLAYGROUND_ACCOUNT,
    conditions: [
      readyCondition('Ready', true, revision.createTime),
      readyCondition('ContainerHealthy', true, revision.createTime),
      readyCondition('ResourcesAvailable', true, revision.createTime),
    ],
    observedGeneration: '1',
    reconciling: false,
    etag: `"${revision.uid}"`,
  };
}
