import { FatalError } from '../core/errors.js';

/** What every Google client library's client has: a `close()` that releases its channel. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * A Google client built on its first call. Building one sets up Google auth (Application Default
 * Credentials), which without a key file probes the GCE metadata server and prints a
 * MetadataLookupWarning when none answers; a process that never calls the API (a `status`, a
 * daemon with no services) must not pay for that, nor leave a probe on the network.
 */
export class LazyClient<T extends Closable> {
  #client: T | undefined;
  #closed = false;

  constructor(
    private readonly what: string,
    private readonly make: () => T,
  ) {}

  /** The client, built now if this is its first use. Throws RW_CLIENT_CLOSED after close(). */
  get(): T {
    if (this.#closed) throw new FatalError('RW_CLIENT_CLOSED', `${this.what} client is closed`);
    this.#client ??= this.make();
    return this.#client;
  }

  /** Closes the client if it was built; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }
}
