import { describe, expect, it } from 'vitest';
import { OutcomePicker, resolveBehaviour } from '../src/playground/behaviour.js';
import { Histogram } from '../src/playground/distribution.js';
import { alignSeries, reduceSeries } from '../src/playground/monitoring-aggregate.js';
import { parseFilter, type SeriesIdentity } from '../src/playground/monitoring-filter.js';
import type { Series } from '../src/playground/monitoring-series.js';
import { WeightedPicker } from '../src/playground/traffic-router.js';
import { trafficAfterDeploy, validateTraffic } from '../src/playground/traffic-spec.js';

function identity(revision: string, code: string): SeriesIdentity {
  return {
    metricType: 'run.googleapis.com/request_count',
    metricLabels: { response_code: code, response_code_class: `${code[0]}xx` },
    resourceType: 'cloud_run_revision',
    resourceLabels: { project_id: 'p', service_name: 'shop', revision_name: revision },
  };
}

describe('playground filter', () => {
  const ok = identity('shop-00002-abc', '503');

  it('matches comparisons joined by AND, with label and labels spellings', () => {
    expect(
      parseFilter(
        'metric.type = "run.googleapis.com/request_count" AND resource.label.revision_name = "shop-00002-abc" metric.labels.response_code_class="5xx"',
      ).matches(ok),
    ).toBe(true);
    expect(
      parseFilter(
        'metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code != "503"',
      ).matches(ok),
    ).toBe(false);
  });

  it('supports one_of, starts_with and regex full_match, and bare values', () => {
    const base = 'metric.type = "run.googleapis.com/request_count"';
    expect(parseFilter(`${base} AND metric.labels.response_code = one_of("500", "503")`).matches(ok)).toBe(
      true,
    );
    expect(parseFilter(`${base} AND resource.labels.revision_name = starts_with("shop-")`).matches(ok)).toBe(
      true,
    );
    expect(
      parseFilter(
        `${base} AND resource.labels.revision_name = monitoring.regex.full_match("shop-0+2-.*")`,
      ).matches(ok),
    ).toBe(true);
    expect(parseFilter(`${base} AND metric.labels.response_code = 503`).matches(ok)).toBe(true);
    expect(
      parseFilter(`${base} AND metric.labels.response_code_class = xx AND project = p`).matches(ok),
    ).toBe(false);
  });

  it('refuses what it does not understand rather than ignoring it', () => {
    const base = 'metric.type = "run.googleapis.com/request_count"';
    expect(() => parseFilter('resource.type = "cloud_run_revision"')).toThrow(/metric.type/);
    expect(() => parseFilter(`${base} OR metric.labels.response_code = "500"`)).toThrow(/OR/);
    expect(() => parseFilter(`${base} AND (metric.labels.response_code = "500")`)).toThrow();
    expect(() => parseFilter(`${base} AND metadata.user_labels.team = "x"`)).toThrow(/unknown field/);
    expect(() => parseFilter(`${base} AND metric.labels.response_code = "500`)).toThrow(/unterminated/);
  });
});

describe('playground aggregation', () => {
  const minute = 60_000;
  const end = 10 * minute;
  const series = (revision: string, code: string, values: Array<[number, number]>): Series => ({
    ...identity(revision, code),
    kind: 'DELTA',
    valueType: 'INT64',
    unit: '1',
    points: values.map(([at, value]) => ({ start: at - minute, end: at, value })),
  });

  it('aligns into periods ending at the interval end, leaving empty periods out', () => {
    const aligned = alignSeries(
      series('a', '500', [
        [4 * minute, 1],
        [5 * minute, 2],
        [9 * minute, 4],
      ]),
      { aligner: 'ALIGN_DELTA', alignmentPeriodMs: 2 * minute, reducer: 'REDUCE_NONE', groupByFields: [] },
      end,
    );
    expect(aligned.points).toEqual([
      { start: 2 * minute, end: 4 * minute, value: 1 },
      { start: 4 * minute, end: 6 * minute, value: 2 },
      { start: 8 * minute, end: 10 * minute, value: 4 },
    ]);
  });

  it('ALIGN_RATE divides by the period in seconds; REDUCE_SUM adds aligned series by group', () => {
    const rate = alignSeries(
      series('a', '500', [[end, 30]]),
      { aligner: 'ALIGN_RATE', alignmentPeriodMs: minute, reducer: 'REDUCE_NONE', groupByFields: [] },
      end,
    );
    expect(rate).toMatchObject({ kind: 'GAUGE', valueType: 'DOUBLE', points: [{ value: 0.5 }] });

    const aggregation = {
      aligner: 'ALIGN_DELTA',
      alignmentPeriodMs: 5 * minute,
      reducer: 'REDUCE_SUM',
      groupByFields: ['resource.labels.revision_name'],
    };
    const reduced = reduceSeries(
      [series('a', '500', [[end, 3]]), series('a', '200', [[end, 7]]), series('b', '200', [[end, 5]])].map(
        (one) => alignSeries(one, aggregation, end),
      ),
      aggregation,
    );
    expect(reduced.map((one) => [one.resourceLabels, one.metricLabels, one.points[0]?.value])).toEqual([
      [{ project_id: 'p', revision_name: 'a' }, {}, 10],
      [{ project_id: 'p', revision_name: 'b' }, {}, 5],
    ]);
  });

  it('refuses an aligner that makes no sense for the metric', () => {
    expect(() =>
      alignSeries(
        series('a', '500', [[end, 1]]),
        {
          aligner: 'ALIGN_PERCENTILE_99',
          alignmentPeriodMs: minute,
          reducer: 'REDUCE_NONE',
          groupByFields: [],
        },
        end,
      ),
    ).toThrow(/ALIGN_PERCENTILE_99 is not valid for a DELTA INT64 metric/);
  });

  it('distribution percentiles land inside the bucket of the value', () => {
    const histogram = new Histogram();
    histogram.add(0.2, 98);
    histogram.add(0.95, 2);
    expect(histogram.percentile(0.5)).toBeGreaterThanOrEqual(0.2);
    expect(histogram.percentile(0.5)).toBeLessThan(0.21);
    expect(histogram.percentile(0.99)).toBeGreaterThanOrEqual(0.95);
    expect(histogram.percentile(0.99)).toBeLessThan(0.96);
    expect(histogram.mean()).toBeCloseTo((0.2 * 98 + 0.95 * 2) / 100, 9);
  });
});

describe('playground traffic rules', () => {
  it('a plain deploy sends everything to LATEST and keeps tags at 0 %', () => {
    const next = trafficAfterDeploy(
      [
        { type: 'REVISION', revision: 'r1', percent: 100, tag: 'stable' },
        { type: 'REVISION', revision: 'r0', percent: 0, tag: 'old' },
      ],
      'r1',
      'r2',
      {},
    );
    expect(next).toEqual([
      { type: 'LATEST', percent: 100 },
      { type: 'REVISION', revision: 'r1', percent: 0, tag: 'stable' },
      { type: 'REVISION', revision: 'r0', percent: 0, tag: 'old' },
    ]);
  });

  it('--no-traffic pins LATEST to the previous revision; --tag moves the tag to the new one', () => {
    const next = trafficAfterDeploy(
      [
        { type: 'LATEST', percent: 90 },
        { type: 'REVISION', revision: 'r0', percent: 10, tag: 'canary' },
      ],
      'r1',
      'r2',
      { noTraffic: true, tag: 'canary' },
    );
    expect(next).toEqual([
      { type: 'REVISION', revision: 'r1', percent: 90 },
      { type: 'REVISION', revision: 'r0', percent: 10 },
      { type: 'REVISION', revision: 'r2', percent: 0, tag: 'canary' },
    ]);
    expect(() => validateTraffic(next, ['r0', 'r1', 'r2'])).not.toThrow();
  });

  it('validates targets, naming the one at fault', () => {
    expect(() => validateTraffic([{ type: 'REVISION', revision: 'r9', percent: 100 }], ['r1'])).toThrow(
      /traffic\[0\].revision: no revision named r9/,
    );
    expect(() =>
      validateTraffic(
        [
          { type: 'LATEST', percent: 50, tag: 'x' },
          { type: 'REVISION', revision: 'r1', percent: 50, tag: 'x' },
        ],
        ['r1'],
      ),
    ).toThrow(/traffic\[1\].tag: "x" is used twice/);
    expect(() => validateTraffic([{ type: 'LATEST', percent: 100.5 }], [])).toThrow(/whole number/);
    expect(
      validateTraffic(
        [{ type: 'REVISION', revision: 'projects/p/locations/l/services/s/revisions/r1', percent: 100 }],
        ['r1'],
      ),
    ).toEqual([{ type: 'REVISION', revision: 'r1', percent: 100 }]);
  });

  it('the weighted picker gives each revision exactly its percent over 100 requests, interleaved', () => {
    const picker = new WeightedPicker([
      { name: 'a', percent: 90 },
      { name: 'b', percent: 10 },
    ]);
    const picks = Array.from({ length: 100 }, () => picker.pick()!.name);
    expect(picks.filter((name) => name === 'b')).toHaveLength(10);
    expect(picks.slice(0, 10).filter((name) => name === 'b')).toHaveLength(1);
  });

  it('behaviours: presets, overrides, deterministic shares and clear errors', () => {
    expect(resolveBehaviour('failing-health').healthy).toBe(false);
    expect(resolveBehaviour({ preset: 'slow', latencyMs: 10 })).toMatchObject({
      latencyMs: 10,
      healthy: true,
    });
    const picker = new OutcomePicker();
    const behaviour = resolveBehaviour({ errorRate: 0.25, unavailableRate: 0.1 });
    const codes = Array.from({ length: 100 }, () => picker.next(behaviour));
    expect(codes.filter((code) => code === 500)).toHaveLength(25);
    expect(codes.filter((code) => code === 503)).toHaveLength(10);
    expect(() => resolveBehaviour({ errorRate: 1.5 })).toThrow(/behaviour\.errorRate/);
    expect(() => resolveBehaviour('sluggish')).toThrow(/presets: healthy/);
    expect(() => resolveBehaviour({ preset: 'unavailable', errorRate: 0.5 })).toThrow(/at most 1/);
  });
});
