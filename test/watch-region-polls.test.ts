import { afterEach, describe, expect, it } from 'vitest';
import type { Location } from '../src/cloudrun/cloud-run-api.js';
import { GrpcCloudRun } from '../src/cloudrun/grpc-cloud-run.js';
import { cloudRunSchema } from '../src/config/schema/google-apis.js';
import type { RunwardenError } from '../src/core/errors.js';
import { THROTTLE_FIRST_WAIT_MS } from '../src/core/throttle-backoff.js';
import { type Playground, startPlayground } from '../src/playground/index.js';
import { RegionPolls } from '../src/watch/region-polls.js';
import { requestRollback } from '../src/watch/rollback.js';
import { useWatchHarness } from './helpers/watch-harness.js';

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

describe('polling Cloud Run with one ListServices per project and region', () => {
  let playground: Playground | undefined;
  let cloudRun: GrpcCloudRun | undefined;
  afterEach(async () => {
    await cloudRun?.close();
    await playground?.stop();
    cloudRun = undefined;
    playground = undefined;
  });

  async function start(listPageSize?: number) {
    playground = await startPlayground({
      project: 'demo-project',
      region: 'europe-west1',
      services: NAMES.map((name) => ({ name })),
    });
    const config = cloudRunSchema.parse({
      endpoint: `${playground.endpoint.host}:${playground.endpoint.port}`,
      insecure: true,
      retry_deadline: '300ms',
      call_timeout: '3s',
    });
    cloudRun = new GrpcCloudRun(config, listPageSize ? { listPageSize } : {});
    const told: string[] = [];
    let now = Date.now();
    const clock = { now: () => now, advance: (ms: number) => (now += ms) };
    const polls = new RegionPolls(cloudRun, clock.now, {
      throttled: (location: Location, until: number, error: RunwardenError) =>
        told.push(`throttled ${location.region} for ${until - now} ms: ${error.code}`),
      recovered: (location: Location) => told.push(`recovered ${location.region}`),
      listDenied: (location: Location, error: RunwardenError) =>
        told.push(`denied ${location.region}: ${error.code}`),
    });
    const ref = (service: string) => ({ project: 'demo-project', region: 'europe-west1', service });
    return { playground, cloudRun, polls, told, clock, ref, signal: new AbortController().signal };
  }

  it('five services polled together cost one ListServices and no GetService, and each sees what GetService would', async () => {
    const { playground, cloudRun, polls, ref, signal } = await start();
    const mark = playground.apiCallMark();
    const seen = await Promise.all(NAMES.map((name) => polls.observe(ref(name), signal)));
    expect(playground.apiCallsSince(mark)).toEqual(['ListServices']);
    for (const [index, name] of NAMES.entries()) {
      expect(seen[index]!.stale).toBe(false);
      expect(seen[index]!.observation).toEqual(await cloudRun.getService(ref(name), signal));
    }
    // The next poll lists again: a listing is never reused once done (ticks want the service now).
    const again = playground.apiCallMark();
    await polls.observe(ref('alpha'), signal);
    expect(playground.apiCallsSince(again)).toEqual(['ListServices']);
  });

  it('pages through the listing: five services two to a page are three reads, and all five are found', async () => {
    const { playground, cloudRun, signal } = await start(2);
    const mark = playground.apiCallMark();
    const listed = await cloudRun.listServices({ project: 'demo-project', region: 'europe-west1' }, signal);
    expect([...listed.keys()].sort()).toEqual([...NAMES].sort());
    expect(playground.apiCallsSince(mark)).toEqual(['ListServices', 'ListServices', 'ListServices']);
  });

  it('a service the listing does not have fails with RW_CLOUDRUN_NOT_FOUND, naming it and where it was looked for', async () => {
    const { polls, ref, signal } = await start();
    await expect(polls.observe(ref('zulu'), signal)).rejects.toMatchObject({
      code: 'RW_CLOUDRUN_NOT_FOUND',
      message: expect.stringMatching(
        /service zulu is not among the 5 services .* projects\/demo-project\/locations\/europe-west1/,
      ),
    });
  });

  it('on RESOURCE_EXHAUSTED it rests a minute, says so once, and serves the last listing marked stale meanwhile', async () => {
    const { playground, polls, told, clock, ref, signal } = await start();
    const first = await polls.observe(ref('alpha'), signal);
    playground.injectFault('ListServices', { code: 'RESOURCE_EXHAUSTED', times: 1_000 });
    const refused = await polls.observe(ref('alpha'), signal);
    expect(refused).toEqual({ observation: first.observation, stale: true });
    expect(told).toEqual([`throttled europe-west1 for ${THROTTLE_FIRST_WAIT_MS} ms: RW_CLOUDRUN_THROTTLED`]);
    expect(polls.restingUntil(ref('alpha'))).toBe(clock.now() + THROTTLE_FIRST_WAIT_MS);
    // Resting: no call reaches Cloud Run, every service still gets its last listing.
    const mark = playground.apiCallMark();
    for (const name of NAMES) expect((await polls.observe(ref(name), signal)).stale).toBe(true);
    expect(playground.apiCallsSince(mark)).toEqual([]);
    // Past the rest, still refused: the next rest is twice as long.
    clock.advance(THROTTLE_FIRST_WAIT_MS);
    await polls.observe(ref('alpha'), signal);
    expect(told[1]).toBe(
      `throttled europe-west1 for ${2 * THROTTLE_FIRST_WAIT_MS} ms: RW_CLOUDRUN_THROTTLED`,
    );
    playground.clearFaults('ListServices');
    clock.advance(2 * THROTTLE_FIRST_WAIT_MS);
    expect((await polls.observe(ref('alpha'), signal)).stale).toBe(false);
    expect(told[2]).toBe('recovered europe-west1');
    expect(polls.restingUntil(ref('alpha'))).toBeNull();
  });

  it('refused before any listing, a poll fails with RW_CLOUDRUN_THROTTLED, and the rest is kept', async () => {
    const { playground, polls, ref, signal } = await start();
    playground.injectFault('ListServices', { code: 'RESOURCE_EXHAUSTED', times: 1_000 });
    await expect(polls.observe(ref('alpha'), signal)).rejects.toMatchObject({
      code: 'RW_CLOUDRUN_THROTTLED',
    });
    const mark = playground.apiCallMark();
    await expect(polls.observe(ref('bravo'), signal)).rejects.toMatchObject({
      code: 'RW_CLOUDRUN_THROTTLED',
      message: expect.stringMatching(/refused reads of demo-project\/europe-west1 for quota; resting until/),
    });
    expect(playground.apiCallsSince(mark)).toEqual([]);
  });

  it('without run.services.list (roles granted per service), it reads each service alone and says so once', async () => {
    const { playground, polls, told, ref, signal } = await start();
    playground.injectFault('ListServices', { code: 'PERMISSION_DENIED', times: 1_000 });
    const mark = playground.apiCallMark();
    const seen = await Promise.all(['alpha', 'bravo'].map((name) => polls.observe(ref(name), signal)));
    expect(seen.map((entry) => entry.stale)).toEqual([false, false]);
    expect(told).toEqual(['denied europe-west1: RW_CLOUDRUN_DENIED']);
    expect(playground.apiCallsSince(mark).sort()).toEqual(['GetService', 'GetService', 'ListServices']);
  });
});

describe('an alert acts on the last poll: UpdateService with no read first', () => {
  const { ready } = useWatchHarness('runwarden-region-');

  async function watching() {
    const { h, v1 } = await ready();
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    await h.runUntilEvent('watch:started');
    return { h, v1, v2 };
  }
  const alert = { service: 'shop', trigger: 'alert', reason: 'test alert', rule: 'HighErrors' } as const;

  it('the first call is UpdateService, carrying the polled etag', async () => {
    const { h, v1, v2 } = await watching();
    const mark = h.playground.apiCallMark();
    const outcome = await requestRollback(h.runtime, alert, AbortSignal.timeout(30_000));
    expect(outcome).toMatchObject({ kind: 'rolled_back', to: v1, from: [v2] });
    const calls = h.playground.apiCallsSince(mark).filter((method) => method !== 'ListTimeSeries');
    expect(calls[0]).toBe('UpdateService');
    expect(calls.filter((method) => method === 'UpdateService')).toHaveLength(1);
  });

  it('a stale polled etag is refused by Cloud Run; the service is then read and the rollback goes through', async () => {
    const { h, v1, v2 } = await watching();
    // A person re-applies the same traffic: same revisions served, a new etag the poll has not seen.
    const before = h.runtime.live.of('shop').observation!.etag;
    await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v2, percent: 100 }]);
    const mark = h.playground.apiCallMark();
    const outcome = await requestRollback(h.runtime, alert, AbortSignal.timeout(30_000));
    expect(outcome).toMatchObject({ kind: 'rolled_back', to: v1, from: [v2] });
    const calls = h.playground.apiCallsSince(mark).filter((method) => method !== 'ListTimeSeries');
    expect(calls.slice(0, 3)).toEqual(['UpdateService', 'GetService', 'UpdateService']);
    expect(h.runtime.live.of('shop').observation!.etag).not.toBe(before);
  });

  it('two rollbacks on the same stale polled etag (an alert beside the watch) change the traffic exactly once', async () => {
    const { h, v1, v2 } = await watching();
    await h.playground.setTraffic('shop', [{ type: 'REVISION', revision: v2, percent: 100 }]);
    const accepted = h.playground.trafficUpdates('shop').length;
    const both = await Promise.all([
      requestRollback(h.runtime, alert, AbortSignal.timeout(30_000)),
      requestRollback(
        h.runtime,
        { ...alert, reason: 'the same incident, again' },
        AbortSignal.timeout(30_000),
      ),
    ]);
    // The second waits for the first's turn, then finds it done: nothing to do, or (deciding on the
    // rollback just made) the cooldown; never a second change.
    expect(
      both.filter((outcome) => outcome.kind === 'rolled_back'),
      JSON.stringify(both),
    ).toHaveLength(1);
    const second = both.find((outcome) => outcome.kind !== 'rolled_back');
    expect(second?.kind === 'noop' || (second?.kind === 'refused' && second.reason === 'cooldown')).toBe(
      true,
    );
    expect(both.find((outcome) => outcome.kind === 'rolled_back')).toMatchObject({ to: v1, from: [v2] });
    expect(h.playground.trafficUpdates('shop')).toHaveLength(accepted + 1);
    expect(h.playground.traffic('shop')).toEqual([expect.objectContaining({ revision: v1, percent: 100 })]);
  });

  it('a poll from before a deploy is not trusted to say "nothing to do": the service is read first', async () => {
    const { h, v1 } = await ready();
    // The poll saw v1 serving; v2 is deployed and takes the traffic before the next poll.
    const v2 = await h.playground.deploy('shop', { behaviour: 'healthy' });
    const mark = h.playground.apiCallMark();
    const outcome = await requestRollback(h.runtime, alert, AbortSignal.timeout(30_000));
    expect(outcome).toMatchObject({ kind: 'rolled_back', to: v1, from: [v2] });
    const calls = h.playground.apiCallsSince(mark).filter((method) => method !== 'ListTimeSeries');
    expect(calls.slice(0, 2)).toEqual(['GetService', 'UpdateService']);
  });
});
