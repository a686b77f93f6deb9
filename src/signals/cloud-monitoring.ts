// The client's own module, not the package index, which loads every Monitoring client and the
// 4 MB protos/protos.js the daemon never uses (see src/cloudrun/grpc-cloud-run.ts).
import { MetricServiceClient } from '@google-cloud/monitoring/build/src/v3/metric_service_client.js';
import { z } from 'zod';
import type { MonitoringConfig } from '../config/schema/google-apis.js';
import { bucketBounds } from '../core/latency.js';
import { batchNames, MAX_REVISIONS_PER_QUERY, revisionKey, splitByRevision } from '../core/metric-batch.js';
import type { LatencyPoint, RequestBucket, TimeWindow, UtilizationPoint } from '../core/rules.js';
import { FatalError, RunwardenError } from '../core/errors.js';
import { googleClientOptions } from '../google/client-options.js';
import { LazyClient } from '../google/lazy-client.js';
import { mapGoogleError } from '../google/grpc-errors.js';
import { abortable, withRetry } from '../google/retry.js';
import type { MetricRead, MetricSource, RevisionTarget } from './metric-source.js';
import { ReadBatches } from './read-batches.js';

const REQUEST_COUNT = 'run.googleapis.com/request_count';
const REQUEST_LATENCIES = 'run.googleapis.com/request_latencies';
const UTILIZATION = {
  cpu: 'run.googleapis.com/container/cpu/utilizations',
  memory: 'run.googleapis.com/container/memory/utilizations',
} as const;

const timestamp = z.object({
  seconds: z.union([z.string(), z.number()]).nullish(),
  nanos: z.number().nullish(),
});
const int64 = z.union([z.string(), z.number()]);
const distribution = z.object({
  count: int64.nullish(),
  bucketOptions: z
    .object({
      linearBuckets: z
        .object({ numFiniteBuckets: z.number(), width: z.number(), offset: z.number() })
        .nullish(),
      exponentialBuckets: z
        .object({ numFiniteBuckets: z.number(), growthFactor: z.number(), scale: z.number() })
        .nullish(),
      explicitBuckets: z.object({ bounds: z.array(z.number()) }).nullish(),
    })
    .nullish(),
  bucketCounts: z.array(int64).nullish(),
});
const point = z.object({
  interval: z.object({ startTime: timestamp.nullish(), endTime: timestamp }),
  value: z.object({
    int64Value: int64.nullish(),
    doubleValue: z.number().nullish(),
    distributionValue: distribution.nullish(),
  }),
});
const series = z.object({
  metric: z.object({ labels: z.record(z.string(), z.string()).nullish() }).nullish(),
  resource: z.object({ labels: z.record(z.string(), z.string()).nullish() }).nullish(),
  points: z.array(point).nullish(),
});

/** What one batched query reads: the same for every revision of the batch. */
interface Query {
  project: string;
  metricType: string;
  window: TimeWindow;
  alignmentMs: number;
  aggregation: { perSeriesAligner: string; crossSeriesReducer?: string; groupByFields?: string[] };
}

type Row = ReturnType<typeof parseSeries>;

interface Member {
  target: RevisionTarget;
  query: Query;
}

/** Grouping by these keeps each revision's series apart when a reducer combines series. */
const REVISION_GROUP_BY = ['resource.label.service_name', 'resource.label.revision_name'];

/**
 * Cloud Monitoring v3 over gRPC with @google-cloud/monitoring's MetricServiceClient (listTimeSeries).
 * request_count is a DELTA INT64 metric: aligned with ALIGN_DELTA and summed per response code;
 * CPU and memory utilizations are distributions: aligned with a percentile aligner; request
 * latencies are distributions read whole (their buckets), so a percentile spans the rule's window.
 *
 * Reads are per revision, but go out batched: the reads of one project, metric, aggregation and
 * window asked in the same turn of the event loop (every guard pass of an interval, every watch
 * tick of a poll: read-batches.ts) are one ListTimeSeries naming up to MAX_REVISIONS_PER_QUERY revisions (`one_of`), grouped
 * by service and revision name so each revision gets exactly its own rows (core/metric-batch.ts).
 * 500 guarded services cost about 30 calls a minute instead of 1,500. A failed call (after the
 * retries, RESOURCE_EXHAUSTED backing off as before) fails each revision's read with its error.
 */
export class CloudMonitoring implements MetricSource {
  readonly #client: LazyClient<MetricServiceClient>;
  readonly #batches: ReadBatches<Member, Row[]>;

  constructor(
    config: MonitoringConfig,
    private readonly retryDeadlineMs = 30_000,
    private readonly callTimeoutMs = 15_000,
    batching: { maxRevisions?: number } = {},
  ) {
    // Built on first query: a process that never reads metrics never starts Google auth.
    const options = googleClientOptions(config);
    this.#client = new LazyClient('Cloud Monitoring', () => new MetricServiceClient(options));
    this.#batches = new ReadBatches((members, signal) => this.#readBatch(members, signal), {
      maxMembers: batching.maxRevisions ?? MAX_REVISIONS_PER_QUERY,
    });
  }

  async requestCounts(target: RevisionTarget, window: TimeWindow, alignmentMs: number, signal: AbortSignal) {
    const rows = await this.#rows(
      target,
      {
        project: target.project,
        metricType: REQUEST_COUNT,
        window,
        alignmentMs,
        aggregation: {
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer: 'REDUCE_SUM',
          groupByFields: ['metric.label.response_code', 'metric.label.response_code_class'],
        },
      },
      signal,
    );
    const items: RequestBucket[] = rows.flatMap(({ labels, points }) =>
      points.map((entry) => ({
        start: entry.end - alignmentMs,
        end: entry.end,
        responseCode: labels.response_code ?? '',
        responseCodeClass: labels.response_code_class ?? '',
        count: Number(entry.value.int64Value ?? entry.value.doubleValue ?? 0),
      })),
    );
    const filter = revisionQuery(REQUEST_COUNT, target);
    return read(`${filter} | ALIGN_DELTA ${alignmentMs}ms | REDUCE_SUM by response_code`, items);
  }

  async utilization(
    target: RevisionTarget,
    kind: 'cpu' | 'memory',
    percentile: 50 | 95 | 99,
    window: TimeWindow,
    alignmentMs: number,
    signal: AbortSignal,
  ) {
    const aligner = `ALIGN_PERCENTILE_${percentile}`;
    const rows = await this.#rows(
      target,
      {
        project: target.project,
        metricType: UTILIZATION[kind],
        window,
        alignmentMs,
        aggregation: { perSeriesAligner: aligner },
      },
      signal,
    );
    const items: UtilizationPoint[] = rows.flatMap(({ points }) =>
      points.map((entry) => ({
        start: entry.end - alignmentMs,
        end: entry.end,
        value: Number(entry.value.doubleValue ?? 0),
      })),
    );
    return read(`${revisionQuery(UTILIZATION[kind], target)} | ${aligner} ${alignmentMs}ms`, items);
  }

  /**
   * request_latencies is a DELTA DISTRIBUTION metric (ms): aligned with ALIGN_DELTA and summed
   * across series (response codes, instances), so each point is one aligned bucket's distribution
   * of every request the revision served. Percentiles are computed by the rules, over the window.
   */
  async latencies(target: RevisionTarget, window: TimeWindow, alignmentMs: number, signal: AbortSignal) {
    const doing = `read the request latencies of ${target.revision}`;
    const rows = await this.#rows(
      target,
      {
        project: target.project,
        metricType: REQUEST_LATENCIES,
        window,
        alignmentMs,
        aggregation: { perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_SUM', groupByFields: [] },
      },
      signal,
    );
    const items: LatencyPoint[] = rows.flatMap(({ points }) =>
      points.flatMap((entry) => {
        const buckets = entry.value.distributionValue && latencyBuckets(entry.value.distributionValue, doing);
        return buckets ? [{ start: entry.end - alignmentMs, end: entry.end, ...buckets }] : [];
      }),
    );
    return read(
      `${revisionQuery(REQUEST_LATENCIES, target)} | ALIGN_DELTA ${alignmentMs}ms | REDUCE_SUM`,
      items,
    );
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  /** The rows of `target`, read in the batch of its query. */
  #rows(target: RevisionTarget, query: Query, signal: AbortSignal): Promise<Row[]> {
    const key = JSON.stringify([
      query.project,
      query.metricType,
      query.aggregation,
      query.window.start,
      query.window.end,
      query.alignmentMs,
    ]);
    return this.#batches.read(key, { target, query }, signal);
  }

  /** One ListTimeSeries for every revision of a batch; the rows split back per revision. */
  async #readBatch(members: readonly Member[], signal: AbortSignal) {
    const { query } = members[0]!;
    const asked = members.map(({ target }) => target);
    const { services, revisions } = batchNames(asked);
    const filter = [
      `metric.type = ${quote(query.metricType)}`,
      'resource.type = "cloud_run_revision"',
      `resource.labels.service_name = ${oneOf(services)}`,
      `resource.labels.revision_name = ${oneOf(revisions)}`,
    ].join(' AND ');
    const { aggregation } = query;
    const grouped = aggregation.crossSeriesReducer
      ? { ...aggregation, groupByFields: [...(aggregation.groupByFields ?? []), ...REVISION_GROUP_BY] }
      : aggregation;
    const doing = `list ${query.metricType} of ${revisions.length} revision(s) in projects/${query.project} (${describeNames(revisions)})`;
    const rows = await this.#list(query, filter, grouped, doing, signal);
    const split = splitByRevision(
      rows,
      (row) =>
        row.resource.service_name === undefined || row.resource.revision_name === undefined
          ? null
          : revisionKey(row.resource.service_name, row.resource.revision_name),
      asked,
    );
    return (member: Member) => split.get(revisionKey(member.target.service, member.target.revision)) ?? [];
  }

  #list(
    query: Query,
    filter: string,
    aggregation: Query['aggregation'],
    doing: string,
    signal: AbortSignal,
  ): Promise<Row[]> {
    const { window, alignmentMs } = query;
    const request = {
      name: `projects/${query.project}`,
      filter,
      interval: { startTime: toTimestamp(window.start), endTime: toTimestamp(window.end) },
      aggregation: {
        alignmentPeriod: { seconds: Math.max(1, Math.round(alignmentMs / 1000)) },
        ...aggregation,
      },
      view: 'FULL' as const,
    };
    return withRetry(
      () =>
        abortable(
          this.#client.get().listTimeSeries(request as never, {
            timeout: this.callTimeoutMs,
            retry: null,
            autoPaginate: true,
          }),
          signal,
        ).then(
          ([all]) => all.map((entry) => parseSeries(entry, doing)),
          (error: unknown) => {
            if (signal.aborted || error instanceof RunwardenError) throw error;
            throw mapGoogleError(doing, error, 'MONITORING');
          },
        ),
      { deadlineMs: this.retryDeadlineMs },
      signal,
    );
  }
}

export const _check = CloudMonitoring satisfies new (config: MonitoringConfig) => MetricSource;

/** The filter that reads `target` alone: what its read is said to have queried (stored with its evaluations). */
function revisionQuery(metricType: string, target: RevisionTarget): string {
  return [
    `metric.type = ${quote(metricType)}`,
    'resource.type = "cloud_run_revision"',
    `resource.labels.service_name = ${quote(target.service)}`,
    `resource.labels.revision_name = ${quote(target.revision)}`,
  ].join(' AND ');
}

/** A string in a Monitoring filter: double-quoted, with backslash escapes. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

function oneOf(values: readonly string[]): string {
  return `one_of(${values.map(quote).join(', ')})`;
}

/** The revisions of a batch for an error message: the first few, and how many more. */
function describeNames(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

function parseSeries(raw: unknown, doing: string) {
  const parsed = series.safeParse(raw);
  if (!parsed.success)
    throw new FatalError(
      'RW_MONITORING_RESPONSE',
      `${doing}: unexpected time series: ${parsed.error.issues[0]?.message}`,
    );
  return {
    labels: parsed.data.metric?.labels ?? {},
    resource: parsed.data.resource?.labels ?? {},
    points: (parsed.data.points ?? []).map((entry) => ({
      end: toMs(entry.interval.endTime),
      value: entry.value,
    })),
  };
}

function latencyBuckets(value: z.infer<typeof distribution>, doing: string) {
  const options = value.bucketOptions;
  const bounds = bucketBounds({
    linear: options?.linearBuckets ?? undefined,
    exponential: options?.exponentialBuckets ?? undefined,
    explicit: options?.explicitBuckets?.bounds,
  });
  const counts = (value.bucketCounts ?? []).map(Number);
  // A distribution with no requests may come without bucket options: it adds nothing.
  if (counts.every((count) => count === 0)) return null;
  if (bounds === null)
    throw new FatalError('RW_MONITORING_RESPONSE', `${doing}: a distribution without usable bucket options`);
  return { bounds, counts };
}

function read<T extends { end: number }>(query: string, items: T[]): MetricRead<T> {
  const newestPointEnd = items.length === 0 ? null : Math.max(...items.map((item) => item.end));
  return { query, items, newestPointEnd };
}

function toTimestamp(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function toMs(value: z.infer<typeof timestamp>): number {
  return Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
}
