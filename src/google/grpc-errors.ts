import { FatalError, RetryableError, type RunwardenError, errorMessage } from '../core/errors.js';

/** gRPC status codes (google.rpc.Code) the adapters branch on. */
const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Which API an error came from; it prefixes the stable code, e.g. RW_CLOUDRUN_CONFLICT. */
export type GoogleApi = 'CLOUDRUN' | 'MONITORING';

/**
 * Maps an error of a Google client library call to runwarden's classes, at the adapter boundary:
 * - RetryableError `RW_<API>_UNAVAILABLE` / `_TIMEOUT` / `_THROTTLED`: transient, try again.
 * - FatalError `RW_<API>_CONFLICT`: the etag precondition failed (ABORTED); re-read and decide again.
 * - FatalError `RW_<API>_NOT_FOUND`, `_DENIED`, `_INVALID`, `_PRECONDITION`, `_CREDENTIALS`, `_FAILED`.
 * The message starts with `doing` (a short verb phrase) and keeps the server's message.
 */
export function mapGoogleError(doing: string, error: unknown, api: GoogleApi): RunwardenError {
  const code = grpcCode(error);
  const message = `${doing}: ${errorMessage(error)}`;
  const fatal = (suffix: string) => new FatalError(`RW_${api}_${suffix}`, message, { cause: error });
  const retryable = (suffix: string) => new RetryableError(`RW_${api}_${suffix}`, message, { cause: error });
  switch (code) {
    case GRPC.UNAVAILABLE:
    case GRPC.INTERNAL:
    case GRPC.UNKNOWN:
    case GRPC.CANCELLED:
      return retryable('UNAVAILABLE');
    case GRPC.DEADLINE_EXCEEDED:
      return retryable('TIMEOUT');
    case GRPC.RESOURCE_EXHAUSTED:
      return retryable('THROTTLED');
    case GRPC.ABORTED:
      return fatal('CONFLICT');
    case GRPC.NOT_FOUND:
      return fatal('NOT_FOUND');
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
      return fatal('DENIED');
    case GRPC.INVALID_ARGUMENT:
      return fatal('INVALID');
    case GRPC.FAILED_PRECONDITION:
      return fatal('PRECONDITION');
    default:
      // google-auth-library fails before any RPC when no credentials can be found.
      if (/default credentials|could not load the default|metadata/i.test(errorMessage(error)))
        return fatal('CREDENTIALS');
      return fatal('FAILED');
  }
}

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
