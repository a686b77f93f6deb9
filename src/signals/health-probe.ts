import { Agent, type Dispatcher, request } from 'undici';
import { errorMessage } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { VERSION } from '../version.js';

/**
 * The User-Agent of every probe, so the app's access logs and metrics can tell probes from users
 * (the README shows how to leave them out of the app's own request metrics).
 */
export const PROBE_USER_AGENT = `runwarden/${VERSION} probe`;

/** One probe: a GET of a health URL, healthy on any 2xx within the timeout. */
export interface ProbeResult {
  url: string;
  ok: boolean;
  /** HTTP status, when an answer came. */
  status?: number | undefined;
  /** Why the probe failed without a status (timeout, refused, reset...), as a stable error code. */
  error?: string | undefined;
  /** ms since the epoch, when the probe started. */
  at: number;
  durationMs: number;
}

/**
 * Probes a health URL. Never throws for an unhealthy answer or a network failure (that is a result,
 * `ok: false`); rejects only when `signal` aborts. Redirects are not followed: a health endpoint
 * that redirects is not answering.
 */
export interface HealthProber {
  /**
   * GETs `url`; `timeoutMs` bounds the whole exchange (headers and body). `bearer`: an ID token sent
   * as `Authorization: Bearer` (never logged, never part of the result).
   */
  probe(url: string, timeoutMs: number, signal: AbortSignal, bearer?: string): Promise<ProbeResult>;
}

/**
 * The one connection pool every probe goes through, bounded so that 500 services cost a few
 * sockets, not 500 idle pools (undici's global dispatcher keeps a pool per origin with no limit,
 * and every Cloud Run service is its own origin):
 * - `connections`: 1 per origin, so undici's Agent keeps a bare Client per origin rather than a
 *   Pool of Clients. Every Cloud Run URL probed (the service's, each revision tag's) is its own
 *   origin, so probes rarely share one, and a second probe of one origin waits for the first
 *   within its own timeout. A Pool would be dropped and rebuilt with every probe (see
 *   `keepAliveTimeout`), and each Pool allocates a 2,048-slot request queue: at 500 services that
 *   churn was a quarter of the daemon's allocations and pushed the old generation (and the peak
 *   RSS) up between collections (issue 18).
 * - `keepAliveTimeout` 2 s (and at most 2 s whatever the server suggests): a connection outlives its
 *   probe only briefly, and undici drops an origin's pool once its last connection closes, so idle
 *   services hold nothing between probes. The price is a new connection per probe at intervals
 *   over 2 s (a TLS handshake against Cloud Run), which costs less than 500 held sockets.
 * - `pipelining` 1: one request per connection at a time (no HTTP pipelining), so a slow health
 *   answer never delays another probe queued behind it on the same socket.
 */
export const PROBE_AGENT_OPTIONS = {
  connections: 1,
  keepAliveTimeout: 2_000,
  keepAliveMaxTimeout: 2_000,
  pipelining: 1,
} as const satisfies Agent.Options;

export class UndiciHealthProber implements HealthProber {
  readonly #dispatcher: Dispatcher = new Agent(PROBE_AGENT_OPTIONS);

  constructor(private readonly clock: Clock = Date.now) {}

  /** Closes the prober's idle connections and waits for probes in flight. */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  async probe(url: string, timeoutMs: number, signal: AbortSignal, bearer?: string): Promise<ProbeResult> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`probe timeout must be more than 0 ms, got ${timeoutMs}`);
    const at = this.clock();
    const started = performance.now();
    const timeout = AbortSignal.timeout(timeoutMs);
    const result = (fields: Omit<ProbeResult, 'url' | 'at' | 'durationMs'>): ProbeResult => ({
      url,
      at,
      durationMs: performance.now() - started,
      ...fields,
    });
    try {
      const response = await request(url, {
        method: 'GET',
        dispatcher: this.#dispatcher,
        signal: AbortSignal.any([signal, timeout]),
        headers: {
          'user-agent': PROBE_USER_AGENT,
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
      });
      // Drain the body so the connection can be reused; its content does not matter.
      await response.body.dump({ limit: 64 * 1024 });
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return result({ ok, status: response.statusCode });
    } catch (error) {
      signal.throwIfAborted();
      if (timeout.aborted) return result({ ok: false, error: 'TIMEOUT' });
      const code = (error as { code?: unknown }).code;
      return result({ ok: false, error: typeof code === 'string' ? code : errorMessage(error) });
    }
  }
}
