import { MetricServiceClient } from '@google-cloud/monitoring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientOptions, type Playground, startPlayground } from '../src/playground/index.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { type Deadline, waitFor } from './helpers/wait.js';

const REQUEST_COUNT = 'metric.type = "run.googleapis.com/request_count"';

/** The emulator's sampling: 1 s buckets, visible 200 ms after they end. */
const SAMPLING = { samplePeriodMs: 1_000, ingestionDelayMs: 200 };

/** A sample is listed once its bucket has ended and been ingested; derived from the sampling. */
const VISIBLE: Deadline = {
  ms: SLOWDOWN * (SAMPLING.samplePeriodMs + SAMPLING.ingestionDelayMs),
  basis: `${SLOWDOWN} x (samplePeriodMs + ingestionDelayMs)`,
};

/** Reads until `done` accepts the value; a timeout names the last value read. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let last: T | undefined;
  try {
    return await waitFor(
      async () => {
        last = await read();
        return done(last) ? last : undefined;
      },
      'the samples to be listed',
      VISIBLE,
      { every: 100 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last: ${JSON.stringify(last)}`);
  }
}

function seconds(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: 0 };
}

describe('playground: Cloud Monitoring ListTimeSeries through the real client', () => {
  let playground: Playground;
  let metrics: MetricServiceClient;
  let stable: string;
  let candidate: string;
  let start: number;

  beforeAll(async () => {
    start = Date.now() - 1_000;
    playground = await startPlayground(
      {
        project: 'demo-project',
        region: 'europe-west1',
        services: [
          { name: 'shop', revisions: [{ behaviour: { cpu: 0.42, memory: 0.61 } }] },
          { name: 'idle', revisions: [{}] },
        ],
      },
      SAMPLING,
    );
    stable = playground.revisions('shop')[0]!.name;
    candidate = await playground.deploy('shop', {
      behaviour: { preset: 'errors', errorRate: 0.25 },
      noTraffic: true,
      tag: 'canary',
    });
    await playground.setTraffic('shop', [
      { type: 'REVISION', revision: stable, percent: 50 },
      { type: 'REVISION', revision: candidate, percent: 50, tag: 'canary' },
    ]);
    await playground.driveTraffic('shop', { rps: 400, durationMs: 200 });
    metrics = new MetricServiceClient(emulatorClientOptions(playground.endpoint));
  });

  afterAll(async () => {
    await metrics?.close();
    await playground?.stop();
  });

  const interval = () => ({ startTime: seconds(start), endTime: seconds(Date.now() + 1_000) });

  function total(
    series: Array<{ points?: Array<{ value?: { int64Value?: unknown } | null }> | null }>,
  ): number {
    return series
      .flatMap((one) => one.points ?? [])
      .reduce((sum, point) => sum + Number(point.value?.int64Value ?? 0), 0);
  }

  it('counts the requests each revision served, per response code', async () => {
    const served = playground.servedRequests({ service: 'shop' });
    expect(served.reduce((sum, one) => sum + one.count, 0)).toBe(80);
    expect(served.find((one) => one.revision === candidate && one.code === 500)?.count).toBe(10);
    for (const { revision, code, count } of served) {
      const filter = `${REQUEST_COUNT} AND resource.labels.service_name = "shop" AND resource.labels.revision_name = "${revision}" AND metric.labels.response_code = "${code}"`;
      const series = await eventually(
        async () =>
          (await metrics.listTimeSeries({ name: 'projects/demo-project', filter, interval: interval() }))[0],
        (found) => total(found) === count,
      );
      expect(series.length).toBe(1);
      expect(series[0]).toMatchObject({
        metric: {
          type: 'run.googleapis.com/request_count',
          labels: { response_code: String(code), response_code_class: `${String(code)[0]}xx` },
        },
        resource: {
          type: 'cloud_run_revision',
          labels: {
            service_name: 'shop',
            revision_name: revision,
            location: 'europe-west1',
            project_id: 'demo-project',
          },
        },
        metricKind: 'DELTA',
        valueType: 'INT64',
      });
    }
  });

  it('filters by response_code_class and gives no series at all for a revision without traffic', async () => {
    const read = async (filter: string) =>
      (await metrics.listTimeSeries({ name: 'projects/demo-project', filter, interval: interval() }))[0];
    const errors = await eventually(
      () => read(`${REQUEST_COUNT} AND metric.labels.response_code_class = "5xx"`),
      (found) => total(found) === 10,
    );
    expect(errors.map((one) => one.resource?.labels?.revision_name)).toEqual([candidate]);
    expect(await read(`${REQUEST_COUNT} AND resource.labels.service_name = "idle"`)).toEqual([]);
  });

  it('aligns and reduces: ALIGN_DELTA + REDUCE_SUM grouped by response_code_class, and ALIGN_RATE', async () => {
    const aggregated = await eventually(
      async () =>
        (
          await metrics.listTimeSeries({
            name: 'projects/demo-project',
            filter: `${REQUEST_COUNT} AND resource.labels.service_name = "shop"`,
            interval: interval(),
            aggregation: {
              alignmentPeriod: { seconds: 600 },
              perSeriesAligner: 'ALIGN_DELTA',
              crossSeriesReducer: 'REDUCE_SUM',
              groupByFields: ['metric.labels.response_code_class'],
            },
          })
        )[0],
      (found) => total(found) === 80,
    );
    const byClass = Object.fromEntries(
      aggregated.map((one) => [one.metric?.labels?.response_code_class, total([one])]),
    );
    expect(byClass).toEqual({ '2xx': 70, '5xx': 10 });
    expect(aggregated.every((one) => one.points?.length === 1)).toBe(true);

    const [rates] = await metrics.listTimeSeries({
      name: 'projects/demo-project',
      filter: `${REQUEST_COUNT} AND resource.labels.revision_name = "${candidate}" AND metric.labels.response_code = "500"`,
      interval: interval(),
      aggregation: { alignmentPeriod: { seconds: 600 }, perSeriesAligner: 'ALIGN_RATE' },
    });
    expect(rates[0]?.valueType).toBe('DOUBLE');
    expect(rates[0]?.points?.[0]?.value?.doubleValue).toBeCloseTo(10 / 600, 6);
  });

  it('pages through time series', async () => {
    const filter = `${REQUEST_COUNT} AND resource.labels.service_name = "shop"`;
    const all = await eventually(
      async () =>
        (await metrics.listTimeSeries({ name: 'projects/demo-project', filter, interval: interval() }))[0],
      (found) => total(found) === 80,
    );
    expect(all.length).toBe(3);
    const [page, next, response] = await metrics.listTimeSeries(
      { name: 'projects/demo-project', filter, interval: interval(), pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page).toHaveLength(2);
    expect(response?.nextPageToken).toBeTruthy();
    const [rest, after] = await metrics.listTimeSeries(next!, { autoPaginate: false });
    expect(rest).toHaveLength(1);
    expect(after).toBeNull();
  });

  it('reports CPU and memory utilization distributions, with percentile aligners', async () => {
    const read = async (metric: string) =>
      (
        await metrics.listTimeSeries({
          name: 'projects/demo-project',
          filter: `metric.type = "run.googleapis.com/container/${metric}/utilizations" AND resource.labels.revision_name = "${stable}"`,
          interval: interval(),
          aggregation: { alignmentPeriod: { seconds: 600 }, perSeriesAligner: 'ALIGN_PERCENTILE_99' },
        })
      )[0];
    const cpu = await eventually(
      () => read('cpu'),
      (found) => found.length === 1,
    );
    expect(cpu[0]?.valueType).toBe('DOUBLE');
    expect(cpu[0]?.points?.[0]?.value?.doubleValue).toBeCloseTo(0.42, 1);
    const memory = await read('memory');
    expect(memory[0]?.points?.[0]?.value?.doubleValue).toBeCloseTo(0.61, 1);

    const [raw] = await metrics.listTimeSeries({
      name: 'projects/demo-project',
      filter: `metric.type = "run.googleapis.com/container/cpu/utilizations" AND resource.labels.revision_name = "${stable}"`,
      interval: interval(),
    });
    expect(raw[0]).toMatchObject({ metricKind: 'DELTA', valueType: 'DISTRIBUTION' });
    const counted = (raw[0]?.points ?? []).reduce(
      (sum, point) => sum + Number(point.value?.distributionValue?.count),
      0,
    );
    expect(counted).toBe(40);
  });

  it('refuses a filter without metric.type or with OR, naming the problem', async () => {
    await expect(
      metrics.listTimeSeries({
        name: 'projects/demo-project',
        filter: 'resource.type = "cloud_run_revision"',
        interval: interval(),
      }),
    ).rejects.toMatchObject({ code: 3, details: expect.stringContaining('metric.type') });
    await expect(
      metrics.listTimeSeries({
        name: 'projects/demo-project',
        filter: `${REQUEST_COUNT} OR metric.labels.response_code = "500"`,
        interval: interval(),
      }),
    ).rejects.toMatchObject({ code: 3, details: expect.stringContaining('OR') });
  });
});

describe('playground: Monitoring ingestion delay', () => {
  it('shows a sample period only once it has ended and the ingestion delay has passed', async () => {
    let now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const playground = await startPlayground(
      { services: [{ name: 'shop' }] },
      { samplePeriodMs: 60_000, ingestionDelayMs: 150_000, clock: () => now },
    );
    const metrics = new MetricServiceClient(emulatorClientOptions(playground.endpoint));
    try {
      now += 10_000;
      await playground.driveTraffic('shop', { rps: 100, durationMs: 100 });
      const read = async () =>
        (
          await metrics.listTimeSeries({
            name: `projects/${playground.project}`,
            filter: REQUEST_COUNT,
            interval: { startTime: seconds(now - 3_600_000), endTime: seconds(now + 3_600_000) },
          })
        )[0];
      now += 50_000; // the minute has ended...
      expect(await read()).toEqual([]);
      now += 149_000; // ...but is not ingested yet
      expect(await read()).toEqual([]);
      now += 1_000;
      const series = await read();
      expect(series[0]?.points?.[0]?.value?.int64Value).toBe('10');
      expect(series[0]?.points?.[0]?.interval?.endTime?.seconds).toBe(
        String(Date.UTC(2030, 0, 1, 12, 1, 0) / 1000),
      );
    } finally {
      await metrics.close();
      await playground.stop();
    }
  });
});
