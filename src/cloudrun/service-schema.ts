import { z } from 'zod';
import { FatalError } from '../core/errors.js';
import type { ServiceObservation, TrafficEntry } from '../core/watch-types.js';
import type { RevisionInfo } from './cloud-run-api.js';

/**
 * The parts of Cloud Run v2 Service and Revision messages runwarden reads, checked at the boundary:
 * a response that does not fit fails loudly (RW_CLOUDRUN_RESPONSE) instead of being half-read.
 * Enums may arrive as names or numbers, int64 and timestamps as strings, absent fields as null.
 */
const text = z
  .string()
  .nullish()
  .transform((value) => value ?? '');
const LATEST = new Set<unknown>(['TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', 1]);

const trafficStatus = z.object({
  type: z.union([z.string(), z.number()]).nullish(),
  revision: text,
  percent: z.number().int().min(0).max(100).nullish(),
  tag: text,
  uri: text,
});

const serviceMessage = z.object({
  name: z.string().min(1),
  etag: text,
  uri: text,
  latestReadyRevision: text,
  trafficStatuses: z.array(trafficStatus).nullish(),
});

const timestamp = z
  .object({ seconds: z.union([z.string(), z.number()]).nullish(), nanos: z.number().nullish() })
  .nullish();

const condition = z.object({ type: text, state: z.union([z.string(), z.number()]).nullish() });

const revisionMessage = z.object({
  name: z.string().min(1),
  createTime: timestamp,
  conditions: z.array(condition).nullish(),
});

/** "projects/p/locations/l/services/s/revisions/r" -> "r"; a short name is returned as is. */
export function shortName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const where = first?.path.join('.') || '(top)';
  throw new FatalError(
    'RW_CLOUDRUN_RESPONSE',
    `unexpected ${what} from Cloud Run at ${where}: ${first?.message}`,
  );
}

export function toObservation(raw: unknown): ServiceObservation {
  const service = parse(serviceMessage, raw, 'service');
  const latestReady = service.latestReadyRevision ? shortName(service.latestReadyRevision) : null;
  const traffic: TrafficEntry[] = (service.trafficStatuses ?? []).map((status) => {
    const latest = LATEST.has(status.type ?? '');
    // A LATEST row may leave `revision` empty; it is whatever revision is latest and ready.
    const revision = status.revision ? shortName(status.revision) : latest ? (latestReady ?? '') : '';
    return {
      revision,
      percent: status.percent ?? 0,
      ...(status.tag ? { tag: status.tag } : {}),
      ...(status.uri ? { uri: status.uri } : {}),
      ...(latest ? { latest: true } : {}),
    };
  });
  return { etag: service.etag, uri: service.uri || null, latestReady, traffic };
}

export function toRevisionInfo(raw: unknown): RevisionInfo {
  const revision = parse(revisionMessage, raw, 'revision');
  const ready = (revision.conditions ?? []).some(
    (entry) => entry.type === 'Ready' && (entry.state === 'CONDITION_SUCCEEDED' || entry.state === 2),
  );
  const seconds = Number(revision.createTime?.seconds ?? 0);
  const nanos = revision.createTime?.nanos ?? 0;
  return { name: shortName(revision.name), ready, createdAt: seconds * 1000 + Math.floor(nanos / 1e6) };
}
