import { MetricServiceClient } from '@google-cloud/monitoring';
import { v2 } from '@google-cloud/run';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emulatorClientOptions,
  type FaultCode,
  type Playground,
  startPlayground,
} from '../src/playground/index.js';

const CODES: Record<FaultCode, number> = {
  ABORTED: 10,
  DEADLINE_EXCEEDED: 4,
  INTERNAL: 13,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNAUTHENTICATED: 16,
  UNAVAILABLE: 14,
};

/** gax retries UNAVAILABLE on reads by default; these tests look at single attempts. */
const ONE_ATTEMPT = { retry: null };

describe('playground: injected faults reach the real clients with their gRPC codes', () => {
  let playground: Playground;
  let services: InstanceType<typeof v2.ServicesClient>;
  let revisions: InstanceType<typeof v2.RevisionsClient>;
  let metrics: MetricServiceClient;

  beforeAll(async () => {
    playground = await startPlayground(
      { services: [{ name: 'shop' }] },
      { samplePeriodMs: 1_000, ingestionDelayMs: 0 },
    );
    services = new v2.ServicesClient(emulatorClientOptions(playground.endpoint));
    revisions = new v2.RevisionsClient(emulatorClientOptions(playground.endpoint));
    metrics = new MetricServiceClient(emulatorClientOptions(playground.endpoint));
  });

  afterAll(async () => {
    await Promise.all([services?.close(), revisions?.close(), metrics?.close()]);
    await playground?.stop();
  });

  const getService = (options: { retry?: null; timeout?: number } = ONE_ATTEMPT) =>
    services.getService({ name: playground.serviceName('shop') }, options);

  it.each(Object.entries(CODES))('GetService gets %s as code %i, once', async (code, expected) => {
    playground.injectFault('GetService', { code: code as FaultCode });
    await expect(getService()).rejects.toMatchObject({ code: expected });
    const [service] = await getService();
    expect(service.name).toBe(playground.serviceName('shop'));
  });

  it('applies a fault to the next N calls only, then the method works again', async () => {
    playground.injectFault('ListRevisions', { code: 'PERMISSION_DENIED', times: 2 });
    const list = () =>
      revisions.listRevisions(
        { parent: playground.serviceName('shop') },
        { ...ONE_ATTEMPT, autoPaginate: false },
      );
    await expect(list()).rejects.toMatchObject({ code: 7 });
    await expect(list()).rejects.toMatchObject({ code: 7 });
    const [found] = await list();
    expect(found).toHaveLength(1);
    expect(playground.pendingFaults()).toEqual({});
  });

  it('the client retries an UNAVAILABLE read by itself, as it would against Google', async () => {
    playground.injectFault('GetService', { code: 'UNAVAILABLE', times: 1 });
    const [service] = await services.getService({ name: playground.serviceName('shop') });
    expect(service.name).toBe(playground.serviceName('shop'));
    expect(playground.pendingFaults()).toEqual({});
  });

  it('a delay longer than the call timeout is DEADLINE_EXCEEDED at the client', async () => {
    playground.injectFault('GetService', { delayMs: 5_000 });
    await expect(getService({ ...ONE_ATTEMPT, timeout: 200 })).rejects.toMatchObject({ code: 4 });
  });

  it('a delay alone slows a call down and lets it succeed', async () => {
    playground.injectFault('ListTimeSeries', { delayMs: 50 });
    const [series] = await metrics.listTimeSeries({
      name: `projects/${playground.project}`,
      filter: 'metric.type = "run.googleapis.com/request_count"',
      interval: { endTime: { seconds: Math.floor(Date.now() / 1000) } },
    });
    expect(series).toEqual([]);
    expect(playground.pendingFaults()).toEqual({});
  });

  it('faults UpdateService and GetOperation: a failed update changes nothing', async () => {
    const [service] = await getService();
    const stable = playground.revisions('shop')[0]!.name;
    playground.injectFault('UpdateService', { code: 'ABORTED' });
    await expect(services.updateService({ service })).rejects.toMatchObject({ code: 10 });
    expect(playground.traffic('shop')).toEqual([{ type: 'LATEST', revision: stable, percent: 100 }]);

    playground.injectFault('GetOperation', { code: 'PERMISSION_DENIED' });
    const [current] = await getService();
    current.traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: stable, percent: 100 }];
    const [operation] = await services.updateService({ service: current });
    await expect(operation.promise()).rejects.toMatchObject({ code: 7 });
  });

  it('faults ListTimeSeries', async () => {
    playground.injectFault('ListTimeSeries', { code: 'UNAVAILABLE' });
    await expect(
      metrics.listTimeSeries(
        {
          name: `projects/${playground.project}`,
          filter: 'metric.type = "run.googleapis.com/request_count"',
          interval: { endTime: { seconds: Math.floor(Date.now() / 1000) } },
        },
        ONE_ATTEMPT,
      ),
    ).rejects.toMatchObject({ code: 14 });
  });

  it('refuses an unknown method, an unknown code or an empty fault, naming it', () => {
    expect(() => playground.injectFault('DeleteService', { code: 'UNAVAILABLE' })).toThrow(
      /unknown method "DeleteService"/,
    );
    expect(() => playground.injectFault('GetService', { code: 'TEAPOT' as FaultCode })).toThrow(
      /fault code "TEAPOT"/,
    );
    expect(() => playground.injectFault('GetService', {})).toThrow(/needs a code, a delayMs/);
    expect(() => playground.injectFault('GetService', { code: 'ABORTED', times: 0 })).toThrow(/times/);
    expect(playground.pendingFaults()).toEqual({});
  });
});
