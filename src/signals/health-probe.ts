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
 * How long Cloud Run's front end (the Google Front End) keeps an idle client connection open: 610 s,
 * the GFE's client HTTP keep-alive timeout (Google Cloud load balancing docs, "Request distribution
 * for external Application Load Balancers"; a figure to verify for `run.app` URLs). The playground's
 * app servers keep idle connections as long, so the bench sees what Cloud Run would do.
 */
export const CLOUD_RUN_IDLE_KEEP_ALIVE_MS = 610_000;

/**
 * How long a probe connection may sit idle before the prober closes it: twice the longest probe
 * interval, so a connection outlives the gap to its origin's next probe (with a late tick to spare),
 * and at most 10 s under Cloud Run's own idle limit, so the prober always closes first and never
 * sends a probe on a connection the front end is closing (that race reads as a failed probe).
 */
export function probeKeepAliveMs(longestProbeIntervalMs: number): number {
  return Math.min(2 * longestProbeIntervalMs, CLOUD_RUN_IDLE_KEEP_ALIVE_MS - 10_000);
}

/**
 * The one connection pool every probe goes through, bounded so that 500 services cost a few
 * sockets, not 500 idle pools (undici's global dispatcher keeps a pool per origin with no limit,
 * and every Cloud Run service is its own origin):
 * - `connections`: 1 per origin, so undici's Agent keeps a bare Client per origin rather than a
 *   Pool of Clients. Every Cloud Run URL probed (the service's, each revision tag's) is its own
 *   origin, so probes rarely share one, and a second probe of one origin waits for the first
 *   within its own timeout. (A Pool allocates a 2,048-slot request queue: at 500 services, one
 *   built per probe was a quarter of the daemon's allocations; issue 18.)
 * - keep-alive longer than the probe interval (`probeKeepAliveMs`, from the configured intervals):
 *   each origin's one connection is reused probe after probe. Until December 2026 it was 2 s, under
 *   the interval, so every probe opened a new connection (a TLS handshake against Cloud Run) and
 *   undici built and dropped the origin's Client each time: at 500 services and 5 s probes, 100
 *   connections a second were about 6 % of a core and much of the garbage that set the peak RSS.
 *   The price is one idle socket per probed origin, measured in bench/RESULTS.md (row 13).
 *   `keepAliveMaxTimeout` is the same bound, so a server suggesting more does not keep it longer.
 * - `pipelining` 1: one request per connection at a time (no HTTP pipelining), so a slow health
 *   answer never delays another probe queued behind it on the same socket.
 */
export function probeAgentOptions(keepAliveMs: number) {
  return {
    connections: 1,
    keepAliveTimeout: keepAliveMs,
    keepAliveMaxTimeout: keepAliveMs,
    pipelining: 1,
  } as const satisfies Agent.Options;
}

/** The keep-alive of a prober built without one: the schema's default probe interval is 10 s. */
const DEFAULT_KEEP_ALIVE_MS = probeKeepAliveMs(10_000);

export class UndiciHealthProber implements HealthProber {
  readonly #dispatcher: Dispatcher;

  /** `keepAliveMs`: how long an idle probe connection is kept (`probeKeepAliveMs` of the intervals). */
  constructor(
    private readonly clock: Clock = Date.now,
    keepAliveMs = DEFAULT_KEEP_ALIVE_MS,
  ) {
    this.#dispatcher = new Agent(probeAgentOptions(keepAliveMs));
  }

  /** Closes the prober's idle connections and waits for probes in flight. */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  async probe(url: string, timeoutMs: number, signal: AbortSignal, bearer?: string): Promise<ProbeResult> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`probe timeout must be more than 0 ms, got ${timeoutMs}`);
    signal.throwIfAborted();
    const at = this.clock();
    const started = performance.now();
    // One controller and one timer per probe, rather than AbortSignal.any([signal,
    // AbortSignal.timeout()]): those build two signals, a dependent-signal set and weak references
    // per probe, about an eighth of the daemon's allocations at 500 services (issue 18).
    const exchange = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      exchange.abort();
    }, timeoutMs);
    timer.unref();
    const stop = () => exchange.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
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
        signal: exchange.signal,
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
      if (timedOut) return result({ ok: false, error: 'TIMEOUT' });
      const code = (error as { code?: unknown }).code;
      return result({ ok: false, error: typeof code === 'string' ? code : errorMessage(error) });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
  }
}
