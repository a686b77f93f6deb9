import { RunwardenError } from '../core/errors.js';

/** The failures the emulator reports, named as gRPC status codes so both front ends can map them. */
export type PlaygroundErrorStatus = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ABORTED' | 'FAILED_PRECONDITION';

/**
 * A request the emulator refuses. The gRPC server answers with `status`; the control API with the
 * matching HTTP status. Code: `RW_PLAYGROUND_<status>`.
 */
export class PlaygroundError extends RunwardenError {
  readonly status: PlaygroundErrorStatus;

  constructor(status: PlaygroundErrorStatus, message: string) {
    super(`RW_PLAYGROUND_${status}`, message);
    this.status = status;
  }
}

export function invalid(message: string): PlaygroundError {
  return new PlaygroundError('INVALID_ARGUMENT', message);
}

export function notFound(message: string): PlaygroundError {
  return new PlaygroundError('NOT_FOUND', message);
}
