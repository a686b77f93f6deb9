import { RunwardenError } from '../core/errors.js';

/**
 * A request the storage emulator refuses, as Cloud Storage's JSON API would: an HTTP status and a
 * `reason` (`notFound`, `conditionNotMet`, `forbidden`...), sent as
 * `{"error": {"code", "message", "errors": [{"domain": "global", "reason", "message"}]}}`, the body
 * @google-cloud/storage turns into an ApiError. Code: `RW_PLAYGROUND_STORAGE_<status>`.
 */
export class StorageApiError extends RunwardenError {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string, message: string) {
    super(`RW_PLAYGROUND_STORAGE_${status}`, message);
    this.status = status;
    this.reason = reason;
  }

  body(): object {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ domain: 'global', reason: this.reason, message: this.message }],
      },
    };
  }
}

export const badRequest = (message: string) => new StorageApiError(400, 'invalid', message);

export const noSuchBucket = (bucket: string) =>
  new StorageApiError(404, 'notFound', `The specified bucket does not exist: ${bucket}`);

export const noSuchObject = (bucket: string, name: string) =>
  new StorageApiError(404, 'notFound', `No such object: ${bucket}/${name}`);

export const conditionNotMet = (what: string) =>
  new StorageApiError(
    412,
    'conditionNotMet',
    `At least one of the pre-conditions you specified did not hold: ${what}`,
  );

export const notModified = () => new StorageApiError(304, 'notModified', 'Not Modified');

/** The reason Cloud Storage gives with each status a fault can inject. */
export function reasonFor(status: number): string {
  const reasons: Record<number, string> = {
    400: 'invalid',
    401: 'required',
    403: 'forbidden',
    404: 'notFound',
    408: 'requestTimeout',
    429: 'rateLimitExceeded',
    500: 'backendError',
    502: 'backendError',
    503: 'backendError',
    504: 'gatewayTimeout',
  };
  return reasons[status] ?? 'backendError';
}
