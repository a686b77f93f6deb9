import type { Histogram } from './distribution.js';
import { type Aggregation, alignSeries, reduceSeries } from './monitoring-aggregate.js';
import { parseFilter } from './monitoring-filter.js';
import { rawSeries, type Series } from './monitoring-series.js';
import { page } from './paging.js';
import { invalid, notFound } from './playground-error.js';
import { timestamp } from './run-resources.js';
import type { UnaryHandler } from './run-service.js';
import type { World } from './world.js';

export interface MonitoringOptions {
  /** How long after a sample period ends its point becomes visible, ms (Cloud Run: up to ~3 min). */
  ingestionDelayMs: number;
  clock: () => number;
}

type Message = Record<string, unknown> | null | undefined;

/**
 * Cloud Monitoring v3 ListTimeSeries over the requests the emulated revisions really served. Points
 * are newest first and series are paged, as in Monitoring.
 */
export function monitoringHandlers(
  world: World,
  options: MonitoringOptions,
): { ListTimeSeries: UnaryHandler } {
  return {
    ListTimeSeries: async (request) => {
      const project = `projects/${world.options.project}`;
      if (request.name !== project)
        throw notFound(`${String(request.name)} not found (the playground has ${project})`);
      if (!request.filter) throw invalid('filter is required');
      const filter = parseFilter(String(request.filter));
      const interval = request.interval as Message;
      const end = toMs(interval?.endTime as Message);
      if (end === undefined) throw invalid('interval.endTime is required');
      const start = toMs(interval?.startTime as Message) ?? end;
      if (start > end) throw invalid('interval.startTime is after interval.endTime');
      if (request.secondaryAggregation)
        throw invalid('secondaryAggregation is not supported by the playground');
      const aggregation = parseAggregation(request.aggregation as Message);

      const visibleUntil = options.clock() - options.ingestionDelayMs;
      let series = rawSeries(world, filter, { start, end, visibleUntil });
      if (aggregation) {
        series = reduceSeries(
          series.map((one) => alignSeries(one, aggregation, end)),
          aggregation,
        );
      }
      series.sort((a, b) => seriesKey(a).localeCompare(seriesKey(b)));
      const headersOnly = request.view === 'HEADERS';
      const { items, nextPageToken } = page(series, request, { defaultSize: 100_000, maxSize: 100_000 });
      return {
        timeSeries: items.map((one) => seriesMessage(one, headersOnly)),
        nextPageToken,
        executionErrors: [],
        unit: items[0]?.unit ?? '',
      };
    },
  };
}

function parseAggregation(raw: Message): Aggregation | undefined {
  if (!raw) return undefined;
  const aligner = String(raw.perSeriesAligner ?? 'ALIGN_NONE');
  const reducer = String(raw.crossSeriesReducer ?? 'REDUCE_NONE');
  const groupByFields = (raw.groupByFields as string[] | undefined) ?? [];
  const periodMs = toMs(raw.alignmentPeriod as Message) ?? 0;
  if (aligner === 'ALIGN_NONE') {
    if (reducer !== 'REDUCE_NONE')
      throw invalid(`aggregation: ${reducer} needs a perSeriesAligner other than ALIGN_NONE`);
    return undefined;
  }
  if (periodMs <= 0) throw invalid('aggregation: alignmentPeriod is required with a perSeriesAligner');
  return { aligner, reducer, groupByFields, alignmentPeriodMs: periodMs };
}

/** Timestamp or Duration ({seconds: int64 as string, nanos}) to ms; undefined when absent. */
function toMs(value: Message): number | undefined {
  if (!value) return undefined;
  return Number(value.seconds ?? 0) * 1000 + Math.floor(Number(value.nanos ?? 0) / 1_000_000);
}

function seriesKey(series: Series): string {
  return JSON.stringify([series.metricType, series.resourceLabels, series.metricLabels]);
}

function seriesMessage(series: Series, headersOnly: boolean): object {
  return {
    metric: { type: series.metricType, labels: series.metricLabels },
    resource: { type: series.resourceType, labels: series.resourceLabels },
    metricKind: series.kind,
    valueType: series.valueType,
    unit: series.unit,
    points: headersOnly
      ? []
      : [...series.points].reverse().map((point) => ({
          interval: { startTime: timestamp(point.start), endTime: timestamp(point.end) },
          value:
            series.valueType === 'DISTRIBUTION'
              ? { distributionValue: (point.value as Histogram).toMessage() }
              : series.valueType === 'INT64'
                ? { int64Value: String(point.value) }
                : { doubleValue: point.value as number },
        })),
  };
}
