import { request } from 'undici';
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

export class UndiciHealthProber implements HealthProber {
  constructor(private readonly clock: Clock = Date.now) {}

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
