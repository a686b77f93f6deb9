import type { Job } from '../daemon/scheduler.js';
import { isAuthRefusal, PROBE_AUTH_FAILED, type ProbeAuthCheck, stableCheck } from '../core/probe-auth.js';
import { type ServiceObservation, servingOf, tagUrlOf } from '../core/watch-types.js';
import type { WatchRecord } from '../store/watch/watches-repo.js';
import { watchEventBase } from './event-base.js';
import { SERVICE_TARGET, TAG_TARGET } from './gather-samples.js';
import { type IdentifiedProbe, probeWithIdentity } from './probe-identity.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

interface Probed {
  target: string;
  revision: string | undefined;
  result: IdentifiedProbe;
}

/**
 * Probes the health path of the service URL, and of the candidate's tag URL while a tagged
 * candidate is watched. Probes are the fast signal: a failure asks for an immediate watch tick
 * (`onFailure`) instead of waiting for the next poll. A probe refused with 401/403 during a watch
 * is followed by a probe of the stable revision with the same credentials, whose answer tells
 * whether the credentials or the candidate are at fault. The first probe after start that is
 * refused (or gets no token) is reported at once.
 */
export function probeJob(rt: WatchRuntime, service: WatchedService, onFailure: () => void): Job {
  return {
    name: `probe:${service.key}`,
    runOnce: async (signal) => {
      const live = rt.live.of(service.key);
      const observation = live.observation;
      if (!observation?.uri) return;
      const serviceUrl = observation.uri;
      const targets = [
        { target: SERVICE_TARGET, base: serviceUrl, revision: undefined as string | undefined },
      ];
      const watch = rt.store.watches.open(service.key);
      const tagUrl = watch && tagUrlOf(observation.traffic, watch.candidate);
      if (watch && tagUrl) targets.push({ target: TAG_TARGET, base: tagUrl, revision: watch.candidate });
      const probed: Probed[] = await Promise.all(
        targets.map(async ({ target, base, revision }) => ({
          target,
          revision,
          result: await probeWithIdentity(rt, service, healthUrl(service, base), serviceUrl, signal),
        })),
      );
      const refused = probed.some((entry) => isAuthRefusal(entry.result.status));
      const check =
        watch && refused ? await checkStable(rt, service, watch, observation, probed, signal) : undefined;
      for (const { target, revision, result } of probed) {
        const auth: ProbeAuthCheck | undefined = result.tokenFailed
          ? 'token_failed'
          : isAuthRefusal(result.status)
            ? check
            : undefined;
        rt.live.recordProbe(service.key, {
          at: result.at,
          ok: result.ok,
          target,
          revision,
          status: result.status,
          error: result.error,
          ...(auth ? { auth } : {}),
        });
        rt.metrics.probeDuration.observe({ service: service.key, target }, result.durationMs / 1000);
        if (!result.ok) rt.metrics.probeFailures.inc({ service: service.key, target });
      }
      if (!live.authChecked) {
        live.authChecked = true;
        const first = probed.find((entry) => entry.target === SERVICE_TARGET)?.result;
        if (first && (first.tokenFailed || isAuthRefusal(first.status)))
          reportStartRefusal(rt, service, watch ?? null, first);
      }
      if (watch && probed.some((entry) => !entry.result.ok)) onFailure();
    },
  };
}

function healthUrl(service: WatchedService, base: string): string {
  return new URL(service.config.health_path, base).toString();
}

/**
 * The stable revision's answer to the same credentials: through the service URL when it alone
 * serves it (already probed), else through its own tag URL; unreachable otherwise.
 */
async function checkStable(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord,
  observation: ServiceObservation,
  probed: readonly Probed[],
  signal: AbortSignal,
): Promise<ProbeAuthCheck> {
  const stable = watch.stable;
  if (!stable || stable === watch.candidate) return stableCheck(undefined);
  const serving = servingOf(observation.traffic);
  if (serving[stable] === 100) {
    const throughService = probed.find((entry) => entry.target === SERVICE_TARGET)?.result;
    if (throughService) return stableCheck(throughService);
  }
  const stableTag = tagUrlOf(observation.traffic, stable);
  if (!stableTag) return stableCheck(undefined);
  const result = await probeWithIdentity(
    rt,
    service,
    healthUrl(service, stableTag),
    observation.uri ?? stableTag,
    signal,
  );
  return stableCheck(result);
}

function reportStartRefusal(
  rt: WatchRuntime,
  service: WatchedService,
  watch: WatchRecord | null,
  result: IdentifiedProbe,
): void {
  const why = result.tokenFailed
    ? 'no ID token could be had for the probe'
    : `the serving revision refused the probe (${result.status})`;
  const hint =
    service.config.probe_auth === 'id_token'
      ? "check the probe's identity has roles/run.invoker on the service and its audience"
      : 'the service requires authentication: set probe_auth: id_token';
  rt.logger.warn(
    { service: service.key, status: result.status, error: result.error },
    'health probe refused at start',
  );
  rt.events.emit('watch:failure', {
    ...watchEventBase(rt, service, watch, { reason: `auth_failed at start: ${why}; ${hint}` }),
    operation: 'probe_auth',
    error: { code: PROBE_AUTH_FAILED, message: `${why}; ${hint}` },
  });
}
