import { errorMessage, FatalError, RetryableError, type RunwardenError } from '../core/errors.js';

const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/**
 * Maps an error of a @google-cloud/storage call to runwarden's classes, at the adapter boundary (the
 * codes are listed on ObjectStore). The client reports failures in several shapes: an ApiError or a
 * plain `{code, message}` body with the HTTP status as `code`, a gaxios/fetch error with a string
 * `code` for network failures, RequestErrors with `CONTENT_DOWNLOAD_MISMATCH`/`FILE_NO_UPLOAD` for
 * checksum mismatches, and, when a resumable upload has used up its retries, a bare Error whose only
 * trace of the cause is its message ("Retry limit exceeded - status: 503"): that last shape is
 * recognised by its message because the client gives nothing else.
 */
export function mapStorageError(doing: string, error: unknown): RunwardenError {
  const message = `${doing}: ${errorMessage(error)}`;
  const fatal = (suffix: string) => new FatalError(`RW_STORAGE_${suffix}`, message, { cause: error });
  const retryable = (suffix: string) => new RetryableError(`RW_STORAGE_${suffix}`, message, { cause: error });
  const code = (error as { code?: unknown } | null)?.code;
  const status =
    typeof code === 'number'
      ? code
      : ((error as { response?: { status?: unknown } } | null)?.response?.status as number | undefined);
  if (typeof status === 'number') {
    if (status === 304 || status === 412) return fatal('PRECONDITION');
    if (status === 400) return fatal('INVALID');
    if (status === 401) return fatal('CREDENTIALS');
    if (status === 403) return fatal('DENIED');
    if (status === 404) return fatal('NOT_FOUND');
    if (status === 408 || status === 504) return retryable('TIMEOUT');
    if (status === 429) return retryable('THROTTLED');
    if (status >= 500) return retryable('UNAVAILABLE');
  }
  if (code === 'CONTENT_DOWNLOAD_MISMATCH' || code === 'FILE_NO_UPLOAD') return fatal('CORRUPT');
  if (typeof code === 'string' && RETRYABLE_NETWORK.has(code)) return retryable('UNAVAILABLE');
  const text = errorMessage(error);
  if (/^Retry (total time )?limit exceeded/.test(text)) return retryable('UNAVAILABLE');
  if (error instanceof RangeError && /offset is lower than the number of bytes written/.test(text)) {
    return retryable('INTERRUPTED');
  }
  if (/default credentials|could not load the default|metadata server/i.test(text))
    return fatal('CREDENTIALS');
  return fatal('FAILED');
}
