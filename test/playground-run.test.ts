import { v2 } from '@google-cloud/run';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientOptions, type Playground, startPlayground } from '../src/playground/index.js';

const { ServicesClient, RevisionsClient } = v2;

describe('playground: Cloud Run Admin API v2 through the real client', () => {
  let playground: Playground;
  let services: InstanceType<typeof ServicesClient>;
  let revisions: InstanceType<typeof RevisionsClient>;

  beforeAll(async () => {
    playground = await startPlayground(
      {
        project: 'demo-project',
        region: 'europe-west1',
        services: [
          {
            name: 'shop',
            revisions: [{ name: 'shop-00001-aaa' }, { name: 'shop-00002-bbb', behaviour: 'errors' }],
            traffic: [
              { revision: 'shop-00001-aaa', percent: 100, tag: 'stable' },
              { latest: true, percent: 0, tag: 'canary' },
            ],
          },
        ],
      },
      { samplePeriodMs: 1_000, ingestionDelayMs: 100 },
    );
    services = new ServicesClient(emulatorClientOptions(playground.endpoint));
    revisions = new RevisionsClient(emulatorClientOptions(playground.endpoint));
  });

  afterAll(async () => {
    await services?.close();
    await revisions?.close();
    await playground?.stop();
  });

  it('reads a service with its traffic, statuses, latest revisions and URL', async () => {
    const [service] = await services.getService({ name: playground.serviceName('shop') });
    expect(service.name).toBe('projects/demo-project/locations/europe-west1/services/shop');
    expect(service.uri).toBe(playground.serviceUrl('shop'));
    expect(service.latestReadyRevision).toBe(`${service.name}/revisions/shop-00002-bbb`);
    expect(service.latestCreatedRevision).toBe(service.latestReadyRevision);
    expect(service.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    expect(service.etag).toBeTruthy();
    expect(service.traffic).toEqual([
      expect.objectContaining({
        type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
        revision: 'shop-00001-aaa',
        percent: 100,
        tag: 'stable',
      }),
      expect.objectContaining({
        type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST',
        revision: '',
        percent: 0,
        tag: 'canary',
      }),
    ]);
    const canary = service.trafficStatuses?.find((status) => status.tag === 'canary');
    expect(canary).toMatchObject({ revision: 'shop-00002-bbb', percent: 0 });
    expect(canary?.uri).toBe(playground.tagUrl('shop', 'canary'));
  });

  it('answers NOT_FOUND for an unknown service', async () => {
    await expect(
      services.getService({ name: 'projects/demo-project/locations/europe-west1/services/nope' }),
    ).rejects.toMatchObject({ code: 5 });
  });

  it('reads one revision', async () => {
    const name = `${playground.serviceName('shop')}/revisions/shop-00001-aaa`;
    const [revision] = await revisions.getRevision({ name });
    expect(revision.name).toBe(name);
    expect(revision.service).toBe(playground.serviceName('shop'));
    expect(revision.conditions?.find((condition) => condition.type === 'Ready')?.state).toBe(
      'CONDITION_SUCCEEDED',
    );
  });

  it('pages through revisions, newest first', async () => {
    await playground.deploy('shop', { behaviour: 'healthy', noTraffic: true });
    const parent = playground.serviceName('shop');
    const [first, next, response] = await revisions.listRevisions(
      { parent, pageSize: 2 },
      { autoPaginate: false },
    );
    expect(first.map((revision) => revision.name?.split('/').pop())).toEqual([
      playground.revisions('shop')[0]!.name,
      'shop-00002-bbb',
    ]);
    expect(response?.nextPageToken).toBeTruthy();
    const [rest] = await revisions.listRevisions(next!, { autoPaginate: false });
    expect(rest.map((revision) => revision.name?.split('/').pop())).toEqual(['shop-00001-aaa']);
    const all: string[] = [];
    for await (const revision of revisions.listRevisionsAsync({ parent, pageSize: 1 }))
      all.push(revision.name!);
    expect(all).toHaveLength(3);
  });

  it('refuses a page token it did not issue', async () => {
    await expect(
      revisions.listRevisions(
        { parent: playground.serviceName('shop'), pageToken: 'bogus' },
        { autoPaginate: false },
      ),
    ).rejects.toMatchObject({ code: 3 });
  });
});
