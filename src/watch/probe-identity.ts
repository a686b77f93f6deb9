import { TOKEN_FAILED } from '../core/probe-auth.js';
import { errorMessage } from '../core/errors.js';
import type { ProbeResult } from '../signals/health-probe.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/** A probe's result, and whether it never ran for want of an ID token. */
export interface IdentifiedProbe extends ProbeResult {
  tokenFailed: boolean;
}

/**
 * Probes `path` on `base` with the service's probe identity: none, or an ID token whose audience is
 * `probe_audience` (default: the service's main URL, also for tag URLs). A token that cannot be had
 * is a failed probe with error RW_PROBE_TOKEN (reported as auth_failed, never as the revision's
 * fault); the token itself never reaches a log or a result.
 */
export async function probeWithIdentity(
  rt: WatchRuntime,
  service: WatchedService,
  url: string,
  serviceUrl: string,
  signal: AbortSignal,
): Promise<IdentifiedProbe> {
  let bearer: string | undefined;
  if (service.config.probe_auth === 'id_token') {
    const at = rt.clock();
    try {
      if (!rt.idTokens) throw new Error('no ID token source is configured');
      bearer = await rt.idTokens.token(
        {
          audience: service.config.probe_audience ?? serviceUrl,
          impersonate: service.config.probe_service_account,
        },
        signal,
      );
    } catch (error) {
      signal.throwIfAborted();
      rt.logger.warn(
        { service: service.key, err: errorMessage(error) },
        'could not get an ID token for the probe',
      );
      return { url, ok: false, error: TOKEN_FAILED, at, durationMs: 0, tokenFailed: true };
    }
  }
  const result = await rt.prober.probe(url, service.config.probe_timeout, signal, bearer);
  return { ...result, tokenFailed: false };
}
