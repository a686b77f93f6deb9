import { MetricServiceClient } from '@google-cloud/monitoring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchNames, revisionKey, splitByRevision } from '../src/core/metric-batch.js';
import type { RequestBucket, TimeWindow } from '../src/core/rules.js';
import { emulatorClientOptions, type Playground, startPlayground } from '../src/playground/index.js';
import { CloudMonitoring } from '../src/signals/cloud-monitoring.js';
import type { RevisionTarget } from '../src/signals/metric-source.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { type Deadline, waitFor } from './helpers/wait.js';

/** The emulator's sampling: 1 s buckets, visible 200 ms after they end. */
const SAMPLING = { samplePeriodMs: 1_000, ingestionDelayMs: 200 };

/** Served requests are listed once their bucket has ended and been ingested; derived from the sampling. */
const VISIBLE: Deadline = {
  ms: SLOWDOWN * 2 * (SAMPLING.samplePeriodMs + SAMPLING.ingestionDelayMs),
  basis: `${SLOWDOWN} x 2 x (samplePeriodMs + ingestionDelayMs)`,
};

const PROJECT = 'demo-project';
const REGION = 'europe-west1';

describe('batching per-revision metric reads (pure)', () => {
  it('names each service and revision once, and splits rows back by service and revision exactly', () => {
    const asked = [
      { service: 'shop', revision: 'shop-a' },
      { service: 'shop', revision: 'shop-ab' },
      { service: 'cart', revision: 'cart-a' },
    ];
    expect(batchNames([...asked, asked[0]!])).toEqual({
      services: ['shop', 'cart'],
      revisions: ['shop-a', 'shop-ab', 'cart-a'],
    });
    const rows = [
      { service: 'shop', revision: 'shop-ab', value: 1 },
      { service: 'shop', revision: 'shop-a', value: 2 },
      // The filter's cross product: cart's revision named like one of shop's, asked of nobody.
      { service: 'cart', revision: 'shop-a', value: 3 },
      { service: 'shop', revision: 'shop-abc', value: 4 },
      { service: undefined, revision: 'shop-a', value: 5 },
    ];
    const split = splitByRevision(
      rows,
      (row) => (row.service === undefined ? null : revisionKey(row.service, row.revision)),
      asked,
    );
    expect(split.get(revisionKey('shop', 'shop-a'))?.map((row) => row.value)).toEqual([2]);
    expect(split.get(revisionKey('shop', 'shop-ab'))?.map((row) => row.value)).toEqual([1]);
    expect(split.get(revisionKey('cart', 'cart-a'))).toEqual([]);
    expect(split.size).toBe(3);
  });
});

describe('Cloud Monitoring reads of many revisions in one ListTimeSeries (real client, emulator)', () => {
  let playground: Playground;
  let endpoint: string;
  const opened: CloudMonitoring[] = [];

  /** Revisions whose names are prefixes of each other: shop-a, shop-ab (one service), shop-abc (another). */
  const targets: Record<string, RevisionTarget> = {};

  beforeAll(async () => {
    playground = await startPlayground(
      {
        project: PROJECT,
        region: REGION,
        services: [
          {
            name: 'shop',
            revisions: [
              { name: 'shop-a', behaviour: { cpu: 0.2, memory: 0.3 } },
              { name: 'shop-ab', behaviour: { preset: 'errors', errorRate: 0.5, cpu: 0.5, memory: 0.6 } },
            ],
            traffic: [
              { revision: 'shop-a', percent: 50 },
              { revision: 'shop-ab', percent: 50 },
            ],
          },
          { name: 'cart', revisions: [{ name: 'shop-abc', behaviour: { cpu: 0.8, memory: 0.9 } }] },
          { name: 'idle', revisions: [{ name: 'idle-a' }] },
        ],
      },
      SAMPLING,
    );
    endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
    for (const [service, revision] of [
      ['shop', 'shop-a'],
      ['shop', 'shop-ab'],
      ['cart', 'shop-abc'],
      ['idle', 'idle-a'],
    ] as const)
      targets[revision] = { project: PROJECT, region: REGION, service, revision };
    await Promise.all([
      playground.driveTraffic('shop', { rps: 200, durationMs: 200 }),
      playground.driveTraffic('cart', { rps: 100, durationMs: 200 }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(opened.map((monitoring) => monitoring.close()));
    await playground?.stop();
  });

  function monitoring(batching?: { maxRevisions?: number }, retryDeadlineMs = 30_000) {
    const opening = new CloudMonitoring(
      { endpoint, insecure: true, alignment_period: 1_000, reporting_delay: 1_000 } as never,
      retryDeadlineMs,
      15_000,
      batching,
    );
    opened.push(opening);
    return opening;
  }

  function window(): TimeWindow {
    const end = Math.ceil(Date.now() / 1_000) * 1_000 + 1_000;
    return { start: end - 60_000, end };
  }

  /** What the emulated revision really served, per response code. */
  function served(revision: string): Record<string, number> {
    const codes: Record<string, number> = {};
    for (const one of playground.servedRequests({ revision }))
      codes[String(one.code)] = (codes[String(one.code)] ?? 0) + one.count;
    return codes;
  }

  function perCode(items: readonly RequestBucket[]): Record<string, number> {
    const codes: Record<string, number> = {};
    for (const item of items) codes[item.responseCode] = (codes[item.responseCode] ?? 0) + item.count;
    return codes;
  }

  /** ListTimeSeries calls the emulator received while `run` ran. */
  async function counted<T>(run: () => Promise<T>): Promise<{ value: T; calls: number }> {
    const before = playground.apiCalls().ListTimeSeries ?? 0;
    const value = await run();
    return { value, calls: (playground.apiCalls().ListTimeSeries ?? 0) - before };
  }

  it('the emulator matches one_of exactly: a revision named by a prefix of another is not the other', async () => {
    const client = new MetricServiceClient(emulatorClientOptions(playground.endpoint));
    try {
      const list = async (revisions: string) =>
        await waitFor(
          async () => {
            const range = window();
            const [series] = await client.listTimeSeries({
              name: `projects/${PROJECT}`,
              filter: `metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = ${revisions}`,
              interval: {
                startTime: { seconds: range.start / 1000 },
                endTime: { seconds: range.end / 1000 },
              },
            });
            const names = [...new Set(series.map((one) => one.resource?.labels?.revision_name))].sort();
            return names.length > 0 ? names : undefined;
          },
          'the served requests to be listed',
          VISIBLE,
          { every: 100 },
        );
      expect(await list('one_of("shop-a", "shop-abc")')).toEqual(['shop-a', 'shop-abc']);
      expect(await list('one_of("shop-ab")')).toEqual(['shop-ab']);
    } finally {
      await client.close();
    }
  });

  it('one call reads the request counts of four revisions, each getting exactly its own', async () => {
    const source = monitoring();
    const names = ['shop-a', 'shop-ab', 'shop-abc', 'idle-a'];
    const expected = Object.fromEntries(names.map((name) => [name, served(name)]));
    expect(expected['shop-ab']?.['500']).toBeGreaterThan(0);
    expect(expected['shop-a']?.['500']).toBeUndefined();
    expect(expected['idle-a']).toEqual({});
    const { value: reads, calls } = await waitFor(
      async () => {
        const range = window();
        const attempt = await counted(() =>
          Promise.all(
            names.map((name) =>
              source.requestCounts(targets[name]!, range, 1_000, AbortSignal.timeout(10_000)),
            ),
          ),
        );
        const got = Object.fromEntries(
          names.map((name, index) => [name, perCode(attempt.value[index]!.items)]),
        );
        return JSON.stringify(got) === JSON.stringify(expected) ? attempt : undefined;
      },
      'the served requests to be listed',
      VISIBLE,
      { every: 100 },
    );
    expect(calls).toBe(1);
    // Each read still says what it read: its own revision alone.
    expect(reads[0]!.query).toContain('resource.labels.revision_name = "shop-a" |');
    expect(reads[3]).toMatchObject({ items: [], newestPointEnd: null });
  });

  it('utilization and latencies are batched too, each revision keeping its own series', async () => {
    const source = monitoring();
    const names = ['shop-a', 'shop-ab', 'shop-abc'];
    const { value, calls } = await waitFor(
      async () => {
        const range = window();
        const attempt = await counted(() =>
          Promise.all([
            Promise.all(
              names.map((name) =>
                source.utilization(targets[name]!, 'cpu', 99, range, 60_000, AbortSignal.timeout(10_000)),
              ),
            ),
            Promise.all(
              names.map((name) =>
                source.latencies(targets[name]!, range, 60_000, AbortSignal.timeout(10_000)),
              ),
            ),
          ]),
        );
        const [cpu, latency] = attempt.value;
        const complete =
          cpu.every((one) => one.items.length > 0) &&
          latency.every((one, index) => {
            const total = one.items.reduce((sum, item) => sum + item.counts.reduce((a, b) => a + b, 0), 0);
            const servedTotal = Object.values(served(names[index]!)).reduce((sum, count) => sum + count, 0);
            return total === servedTotal;
          });
        return complete ? attempt : undefined;
      },
      'utilization and latencies to be listed',
      VISIBLE,
      { every: 100 },
    );
    // One call for the three revisions' CPU, one for their latencies.
    expect(calls).toBe(2);
    const [cpu] = value;
    expect(cpu.map((one) => Number(one.items.at(-1)?.value.toFixed(1)))).toEqual([0.2, 0.5, 0.8]);
  });

  it('at most maxRevisions a call; reads of other windows or metrics are not mixed', async () => {
    const source = monitoring({ maxRevisions: 2 });
    const range = window();
    const signal = AbortSignal.timeout(10_000);
    const three = await counted(() =>
      Promise.all(
        ['shop-a', 'shop-ab', 'shop-abc'].map((name) =>
          source.requestCounts(targets[name]!, range, 1_000, signal),
        ),
      ),
    );
    expect(three.calls).toBe(2);
    const mixed = await counted(() =>
      Promise.all([
        source.requestCounts(targets['shop-a']!, range, 1_000, signal),
        source.requestCounts(
          targets['shop-ab']!,
          { start: range.start - 1_000, end: range.end },
          1_000,
          signal,
        ),
        source.utilization(targets['shop-abc']!, 'memory', 50, range, 1_000, signal),
      ]),
    );
    expect(mixed.calls).toBe(3);
  });

  it('a refused call fails every read of the batch with the same clear error', async () => {
    const source = monitoring();
    playground.injectFault('ListTimeSeries', {
      code: 'PERMISSION_DENIED',
      message: 'monitoring.timeSeries.list denied',
    });
    const range = window();
    const { value: outcomes, calls } = await counted(() =>
      Promise.allSettled(
        ['shop-a', 'shop-abc'].map((name) =>
          source.requestCounts(targets[name]!, range, 1_000, AbortSignal.timeout(10_000)),
        ),
      ),
    );
    expect(calls).toBe(1);
    const reasons = outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason : outcome));
    expect(reasons[0]).toMatchObject({ code: 'RW_MONITORING_DENIED' });
    expect(reasons[1]).toBe(reasons[0]);
    expect((reasons[0] as Error).message).toContain(
      `list run.googleapis.com/request_count of 2 revision(s) in projects/${PROJECT} (shop-a, shop-abc)`,
    );
    expect((reasons[0] as Error).message).toContain('monitoring.timeSeries.list denied');
  });

  it('RESOURCE_EXHAUSTED is retried with back-off for the whole batch, then gives up naming the attempts', async () => {
    const source = monitoring({}, 2_000);
    const range = window();
    playground.injectFault('ListTimeSeries', { code: 'RESOURCE_EXHAUSTED', times: 1 });
    const retried = await counted(() =>
      Promise.all(
        ['shop-a', 'shop-ab'].map((name) =>
          source.requestCounts(targets[name]!, range, 1_000, AbortSignal.timeout(10_000)),
        ),
      ),
    );
    // The refused call and its retry: two calls for both revisions, not two per revision.
    expect(retried.calls).toBe(2);
    expect(perCode(retried.value[1]!.items)).toEqual(served('shop-ab'));

    playground.injectFault('ListTimeSeries', { code: 'RESOURCE_EXHAUSTED', times: 1_000 });
    try {
      const outcomes = await Promise.allSettled(
        ['shop-a', 'shop-ab'].map((name) =>
          source.requestCounts(targets[name]!, range, 1_000, AbortSignal.timeout(10_000)),
        ),
      );
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason as Error & { code: string };
        expect(reason.code).toBe('RW_MONITORING_THROTTLED');
        expect(reason.message).toMatch(
          /^gave up after \d+ attempt\(s\): list run.googleapis.com\/request_count of 2 revision/,
        );
      }
    } finally {
      playground.clearFaults('ListTimeSeries');
    }
  });

  it('a read whose own signal aborts stops waiting; the rest of its batch is still answered', async () => {
    const source = monitoring();
    const range = window();
    const gone = new AbortController();
    const reads = [
      source.requestCounts(targets['shop-a']!, range, 1_000, gone.signal),
      source.requestCounts(targets['shop-ab']!, range, 1_000, AbortSignal.timeout(10_000)),
    ];
    gone.abort(new Error('tick over'));
    await expect(reads[0]).rejects.toThrow('tick over');
    expect(perCode((await reads[1]!).items)).toEqual(served('shop-ab'));
  });
});
