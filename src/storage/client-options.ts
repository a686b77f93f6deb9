import { ConfigError } from '../core/errors.js';

/** Where the bucket is and how calls to it are retried: the shape a config section will carry. */
export interface ObjectStoreOptions {
  bucket: string;
  /** Every object name starts with this (e.g. `runwarden/`); empty by default. */
  prefix?: string;
  /** Cloud Storage's JSON API endpoint; Google's by default. An http:// URL is an emulator. */
  apiEndpoint?: string;
  projectId?: string;
  /** Send credentials to a custom `apiEndpoint` too (a private endpoint, not an emulator). */
  authWithEndpoint?: boolean;
  /** Bytes per request of a resumable upload; a multiple of 256 KiB; 8 MiB by default. */
  chunkSizeBytes?: number;
  /** Files of at least this many bytes go resumable; smaller ones in one request. 8 MiB by default. */
  resumableThresholdBytes?: number;
  /** Objects per list request; 1000 (the API's maximum) by default. */
  pageSize?: number;
  /** The client's retries of transient failures (a resumable upload resumes through them). */
  retry?: { maxRetries?: number; maxDelayMs?: number; totalTimeoutMs?: number };
}

const QUANTUM = 256 * 1024;
const BUCKET = /^[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]$/;

/** The options with defaults applied; ConfigError lists every bad option by name. */
export function resolveObjectStoreOptions(options: ObjectStoreOptions): Required<
  Omit<ObjectStoreOptions, 'apiEndpoint' | 'projectId' | 'retry'>
> &
  Pick<ObjectStoreOptions, 'apiEndpoint' | 'projectId'> & {
    retry: Required<NonNullable<ObjectStoreOptions['retry']>>;
  } {
  const problems: string[] = [];
  if (!BUCKET.test(options.bucket))
    problems.push(`bucket: expected a Cloud Storage bucket name, got "${options.bucket}"`);
  if (options.apiEndpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(options.apiEndpoint)) {
    problems.push(`apiEndpoint: expected http(s)://host[:port], got "${options.apiEndpoint}"`);
  }
  const chunk = options.chunkSizeBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(chunk) || chunk < QUANTUM || chunk % QUANTUM !== 0) {
    problems.push(`chunkSizeBytes: expected a multiple of 262144 (256 KiB), got ${chunk}`);
  }
  const threshold = options.resumableThresholdBytes ?? 8 * 1024 * 1024;
  if (!Number.isInteger(threshold) || threshold < 0) {
    problems.push(`resumableThresholdBytes: expected a whole number >= 0, got ${threshold}`);
  }
  const pageSize = options.pageSize ?? 1_000;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1_000) {
    problems.push(`pageSize: expected 1..1000, got ${pageSize}`);
  }
  const retry = {
    maxRetries: options.retry?.maxRetries ?? 5,
    maxDelayMs: options.retry?.maxDelayMs ?? 8_000,
    totalTimeoutMs: options.retry?.totalTimeoutMs ?? 3_600_000,
  };
  for (const [key, value] of Object.entries(retry)) {
    if (!Number.isFinite(value) || value < 0)
      problems.push(`retry.${key}: expected a number >= 0, got ${value}`);
  }
  if (problems.length > 0)
    throw new ConfigError(`invalid object store options: ${problems.join('; ')}`, problems);
  return {
    bucket: options.bucket,
    prefix: options.prefix ?? '',
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint.replace(/\/$/, '') } : {}),
    ...(options.projectId ? { projectId: options.projectId } : {}),
    authWithEndpoint: options.authWithEndpoint ?? false,
    chunkSizeBytes: chunk,
    resumableThresholdBytes: threshold,
    pageSize,
    retry,
  };
}

/**
 * Constructor options for @google-cloud/storage's `Storage`. Without an endpoint: Google's, with
 * Application Default Credentials. With one: the client sends no credentials unless
 * `authWithEndpoint` (an emulator needs none, so no credentials are looked for). The client's own
 * retries stay on, bounded here: a resumable upload resumes after a dropped connection through them.
 * Its retry delays are in seconds, hence the conversions. `retryAlways` is the client's
 * IdempotencyStrategy.RetryAlways (passed in, so this module does not load the client): under the
 * default RetryConditional, one write without a precondition switches retries off for the whole
 * Storage instance (the client mutates its shared retryOptions), and later resumable uploads could
 * no longer resume. The cost: a retried unconditional write may store the same bytes twice.
 */
export function storageClientOptions(
  options: ReturnType<typeof resolveObjectStoreOptions>,
  retryAlways: number,
): Record<string, unknown> {
  return {
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.apiEndpoint && options.authWithEndpoint ? { useAuthWithCustomEndpoint: true } : {}),
    retryOptions: {
      autoRetry: options.retry.maxRetries > 0,
      maxRetries: options.retry.maxRetries,
      retryDelayMultiplier: 2,
      maxRetryDelay: options.retry.maxDelayMs / 1000,
      totalTimeout: options.retry.totalTimeoutMs / 1000,
      idempotencyStrategy: retryAlways,
    },
  };
}

/**
 * The store options of a config block naming a bucket (off-site copies, the cluster). An http://
 * endpoint is an emulator (no credentials looked for); an https:// one is a private endpoint of
 * Google's, so Application Default Credentials are sent to it.
 */
export function bucketStoreOptions(block: {
  bucket: string;
  prefix: string;
  api_endpoint?: string | undefined;
}): ObjectStoreOptions {
  return {
    bucket: block.bucket,
    prefix: block.prefix,
    ...(block.api_endpoint
      ? { apiEndpoint: block.api_endpoint, authWithEndpoint: block.api_endpoint.startsWith('https://') }
      : {}),
  };
}
