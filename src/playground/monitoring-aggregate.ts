import { Histogram } from './distribution.js';
import type { MetricKind, Series, SeriesPoint, ValueType } from './monitoring-series.js';
import { invalid } from './playground-error.js';

/** An Aggregation from a ListTimeSeries request, with the period in ms. */
export interface Aggregation {
  alignmentPeriodMs: number;
  aligner: string;
  reducer: string;
  groupByFields: readonly string[];
}

const PERCENTILES: Record<string, number> = {
  ALIGN_PERCENTILE_99: 0.99,
  ALIGN_PERCENTILE_95: 0.95,
  ALIGN_PERCENTILE_50: 0.5,
  ALIGN_PERCENTILE_05: 0.05,
};

/**
 * Aligns one series as Monitoring does: periods of `alignmentPeriodMs` ending at the interval's end
 * time, each point of the result summarizing the raw points whose end falls in (end - period, end].
 * A period without raw points gives no point (never a zero).
 */
export function alignSeries(series: Series, aggregation: Aggregation, intervalEnd: number): Series {
  const { aligner, alignmentPeriodMs: period } = aggregation;
  const distribution = series.valueType === 'DISTRIBUTION';
  const shape = alignedShape(aligner, series.valueType, series.kind);
  const windows = new Map<number, SeriesPoint[]>();
  for (const point of series.points) {
    const windowEnd = intervalEnd - Math.floor((intervalEnd - point.end) / period) * period;
    const members = windows.get(windowEnd) ?? [];
    members.push(point);
    windows.set(windowEnd, members);
  }
  const points: SeriesPoint[] = [...windows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([end, members]) => {
      const numbers = members.map((member) => member.value as number);
      const merged = () =>
        members.reduce(
          (all, member) => all.merge(member.value as Histogram),
          new Histogram((members[0]!.value as Histogram).layout),
        );
      let value: number | Histogram;
      if (aligner === 'ALIGN_DELTA' || aligner === 'ALIGN_SUM')
        value = distribution ? merged() : sum(numbers);
      else if (aligner === 'ALIGN_RATE') value = sum(numbers) / (period / 1000);
      else if (aligner === 'ALIGN_MEAN')
        value = distribution ? merged().mean() : sum(numbers) / numbers.length;
      else if (aligner === 'ALIGN_MAX') value = Math.max(...numbers);
      else if (aligner === 'ALIGN_MIN') value = Math.min(...numbers);
      else if (aligner === 'ALIGN_COUNT') value = members.length;
      else value = merged().percentile(PERCENTILES[aligner]!);
      return { start: shape.kind === 'DELTA' ? end - period : end, end, value };
    });
  return { ...series, kind: shape.kind, valueType: shape.valueType, points };
}

/** The kind and value type an aligner gives, or INVALID_ARGUMENT naming the bad combination. */
function alignedShape(
  aligner: string,
  valueType: ValueType,
  kind: MetricKind,
): { kind: MetricKind; valueType: ValueType } {
  const numeric = valueType !== 'DISTRIBUTION';
  switch (aligner) {
    case 'ALIGN_DELTA':
      return { kind: 'DELTA', valueType };
    case 'ALIGN_SUM':
      return { kind: 'GAUGE', valueType };
    case 'ALIGN_RATE':
      if (numeric) return { kind: 'GAUGE', valueType: 'DOUBLE' };
      break;
    case 'ALIGN_MEAN':
      return { kind: 'GAUGE', valueType: 'DOUBLE' };
    case 'ALIGN_MAX':
    case 'ALIGN_MIN':
      if (numeric) return { kind: 'GAUGE', valueType };
      break;
    case 'ALIGN_COUNT':
      return { kind: 'GAUGE', valueType: 'INT64' };
    default:
      if (aligner in PERCENTILES && !numeric) return { kind: 'GAUGE', valueType: 'DOUBLE' };
  }
  throw invalid(`aggregation: the aligner ${aligner} is not valid for a ${kind} ${valueType} metric`);
}

/**
 * Combines aligned series that agree on `groupByFields` (metric.label(s).K / resource.label(s).K),
 * point by point (points share end times once aligned). The result keeps only the grouped labels
 * and the project_id.
 */
export function reduceSeries(series: readonly Series[], aggregation: Aggregation): Series[] {
  const { reducer } = aggregation;
  if (reducer === 'REDUCE_NONE') return [...series];
  const groups = new Map<string, Series[]>();
  const keep = aggregation.groupByFields.map(parseGroupBy);
  for (const one of series) {
    const key = JSON.stringify(keep.map((field) => labelsOf(one, field.scope)[field.key] ?? ''));
    groups.set(key, [...(groups.get(key) ?? []), one]);
  }
  return [...groups.values()].map((members) => {
    const first = members[0]!;
    const pick = (scope: 'metric' | 'resource', always: string[]) =>
      Object.fromEntries(
        Object.entries(labelsOf(first, scope)).filter(
          ([key]) => always.includes(key) || keep.some((field) => field.scope === scope && field.key === key),
        ),
      );
    const byEnd = new Map<number, SeriesPoint[]>();
    for (const member of members) {
      for (const point of member.points) byEnd.set(point.end, [...(byEnd.get(point.end) ?? []), point]);
    }
    const distribution = first.valueType === 'DISTRIBUTION';
    let valueType: ValueType = first.valueType;
    const points = [...byEnd.entries()]
      .sort(([a], [b]) => a - b)
      .map(([end, atEnd]) => {
        const numbers = atEnd.map((point) => point.value as number);
        let value: number | Histogram;
        if (reducer === 'REDUCE_SUM') {
          value = distribution
            ? atEnd.reduce(
                (all, point) => all.merge(point.value as Histogram),
                new Histogram((atEnd[0]!.value as Histogram).layout),
              )
            : sum(numbers);
        } else if (distribution) {
          throw invalid(`aggregation: the reducer ${reducer} is not valid for distribution values`);
        } else if (reducer === 'REDUCE_MEAN') {
          value = sum(numbers) / numbers.length;
          valueType = 'DOUBLE';
        } else if (reducer === 'REDUCE_MAX') value = Math.max(...numbers);
        else if (reducer === 'REDUCE_MIN') value = Math.min(...numbers);
        else if (reducer === 'REDUCE_COUNT') {
          value = numbers.length;
          valueType = 'INT64';
        } else throw invalid(`aggregation: the reducer ${reducer} is not supported by the playground`);
        return { start: atEnd[0]!.start, end, value };
      });
    return {
      ...first,
      metricLabels: pick('metric', []),
      resourceLabels: pick('resource', ['project_id']),
      valueType,
      points,
    };
  });
}

function parseGroupBy(field: string): { scope: 'metric' | 'resource'; key: string } {
  const match = /^(metric|resource)\.labels?\.([A-Za-z0-9_]+)$/.exec(field);
  if (!match)
    throw invalid(`aggregation: groupByFields "${field}" is not metric.label.K or resource.label.K`);
  return { scope: match[1] as 'metric' | 'resource', key: match[2]! };
}

function labelsOf(series: Series, scope: 'metric' | 'resource'): Readonly<Record<string, string>> {
  return scope === 'metric' ? series.metricLabels : series.resourceLabels;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
