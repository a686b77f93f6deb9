import { protos, v2 } from '@google-cloud/run';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emulatorClientOptions, type Playground, startPlayground } from '../src/playground/index.js';

const { ServicesClient } = v2;

describe('playground: traffic updates through the long-running operation', () => {
  let playground: Playground;
  let services: InstanceType<typeof ServicesClient>;
  let stable: string;
  let candidate: string;

  beforeEach(async () => {
    playground = await startPlayground(
      { project: 'demo-project', region: 'europe-west1', services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 100 },
    );
    stable = playground.revisions('shop')[0]!.name;
    candidate = await playground.deploy('shop', { behaviour: 'errors' });
    services = new ServicesClient(emulatorClientOptions(playground.endpoint));
  });

  afterEach(async () => {
    await services.close();
    await playground.stop();
  });

  it('a deploy takes all traffic through LATEST, as gcloud run deploy does', async () => {
    expect(playground.traffic('shop')).toEqual([{ type: 'LATEST', revision: candidate, percent: 100 }]);
    const summary = await playground.driveTraffic('shop', { rps: 200, durationMs: 100 });
    expect(summary.sent).toBe(20);
    expect(Object.keys(summary.byRevision)).toEqual([candidate]);
  });

  it('rolls back: the update is applied when the operation is done, and users then get the old revision', async () => {
    const [service] = await services.getService({ name: playground.serviceName('shop') });
    service.traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: stable, percent: 100 }];
    const [operation] = await services.updateService({ service });
    expect(operation.done).toBe(false);
    // Nothing moves before the operation completes; the service says it is reconciling.
    expect(playground.traffic('shop')[0]?.revision).toBe(candidate);
    const [during] = await services.getService({ name: playground.serviceName('shop') });
    expect(during).toMatchObject({
      reconciling: true,
      terminalCondition: { state: 'CONDITION_RECONCILING' },
    });
    expect(Number(during.observedGeneration)).toBeLessThan(Number(during.generation));
    expect(during.traffic?.[0]?.revision).toBe(stable);
    const [result] = await operation.promise();
    // The operation's result is a decoded protobufjs message (enums as numbers); toObject names them.
    const updated = protos.google.cloud.run.v2.Service.toObject(
      result as protos.google.cloud.run.v2.Service,
      {
        enums: String,
      },
    ) as typeof service;
    expect(updated.trafficStatuses).toEqual([
      expect.objectContaining({
        type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
        revision: stable,
        percent: 100,
      }),
    ]);
    expect(updated.reconciling).toBe(false);
    expect(updated.etag).not.toBe(service.etag);

    const summary = await playground.driveTraffic('shop', { rps: 200, durationMs: 100 });
    expect(summary.byRevision).toEqual({ [stable]: { '200': 20 } });
  });

  it('splits the service URL by percent', async () => {
    const [service] = await services.getService({ name: playground.serviceName('shop') });
    service.traffic = [
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: stable, percent: 80 },
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: candidate, percent: 20, tag: 'canary' },
    ];
    const [operation] = await services.updateService({ service });
    await operation.promise();
    const summary = await playground.driveTraffic('shop', { rps: 500, durationMs: 200 });
    const served = (revision: string) =>
      Object.values(summary.byRevision[revision] ?? {}).reduce((sum, count) => sum + count, 0);
    expect(served(stable)).toBe(80);
    expect(served(candidate)).toBe(20);
    // The tag URL always reaches the tagged revision.
    const tagged = await playground.driveTraffic('shop', { rps: 200, durationMs: 50, tag: 'canary' });
    expect(Object.keys(tagged.byRevision)).toEqual([candidate]);
  });

  it('a stale etag is ABORTED and changes nothing', async () => {
    const [before] = await services.getService({ name: playground.serviceName('shop') });
    await playground.setTraffic('shop', [{ type: 'REVISION', revision: stable, percent: 100 }]);
    before.traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: candidate, percent: 100 }];
    await expect(services.updateService({ service: before })).rejects.toMatchObject({ code: 10 });
    expect(playground.traffic('shop')).toEqual([{ type: 'REVISION', revision: stable, percent: 100 }]);
  });

  it('refuses traffic that does not add up to 100 or names an unknown revision, changing nothing', async () => {
    const [service] = await services.getService({ name: playground.serviceName('shop') });
    service.traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: stable, percent: 90 }];
    await expect(services.updateService({ service })).rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('add up to 100'),
    });
    service.traffic = [
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'shop-09999-zzz', percent: 100 },
    ];
    await expect(services.updateService({ service })).rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('shop-09999-zzz'),
    });
    const [after] = await services.getService({ name: playground.serviceName('shop') });
    expect(after.etag).toBe(service.etag);
    expect(playground.traffic('shop')[0]?.revision).toBe(candidate);
  });

  it('deploys with --no-traffic and a tag: only the tag URL reaches the new revision', async () => {
    const quiet = await playground.deploy('shop', {
      behaviour: 'unavailable',
      noTraffic: true,
      tag: 'preview',
    });
    expect(playground.traffic('shop')).toEqual([
      { type: 'REVISION', revision: candidate, percent: 100 },
      {
        type: 'REVISION',
        revision: quiet,
        percent: 0,
        tag: 'preview',
        uri: playground.tagUrl('shop', 'preview'),
      },
    ]);
    const users = await playground.driveTraffic('shop', { rps: 200, durationMs: 50 });
    expect(Object.keys(users.byRevision)).toEqual([candidate]);
    const preview = await playground.driveTraffic('shop', { rps: 200, durationMs: 50, tag: 'preview' });
    expect(preview.byRevision).toEqual({ [quiet]: { '503': 10 } });
  });
});
