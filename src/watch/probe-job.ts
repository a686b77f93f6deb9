import type { Job } from '../daemon/scheduler.js';
import { tagUrlOf } from '../core/watch-types.js';
import { SERVICE_TARGET, TAG_TARGET } from './gather-samples.js';
import type { WatchRuntime } from './watch-runtime.js';
import type { WatchedService } from './watched-service.js';

/**
 * Probes the health path of the service URL, and of the candidate's tag URL while a tagged
 * candidate is watched. Probes are the fast signal: a failure asks for an immediate watch tick
 * (`onFailure`) instead of waiting for the next poll.
 */
export function probeJob(rt: WatchRuntime, service: WatchedService, onFailure: () => void): Job {
  return {
    name: `probe:${service.key}`,
    runOnce: async (signal) => {
      const observation = rt.live.of(service.key).observation;
      if (!observation?.uri) return;
      const targets = [
        { target: SERVICE_TARGET, base: observation.uri, revision: undefined as string | undefined },
      ];
      const watch = rt.store.watches.open(service.key);
      const tagUrl = watch && tagUrlOf(observation.traffic, watch.candidate);
      if (watch && tagUrl) targets.push({ target: TAG_TARGET, base: tagUrl, revision: watch.candidate });
      const results = await Promise.all(
        targets.map(async ({ target, base, revision }) => {
          const url = new URL(service.config.health_path, base).toString();
          const result = await rt.prober.probe(url, service.config.probe_timeout, signal);
          rt.live.recordProbe(service.key, {
            at: result.at,
            ok: result.ok,
            target,
            revision,
            status: result.status,
            error: result.error,
          });
          rt.metrics.probeDuration.observe({ service: service.key, target }, result.durationMs / 1000);
          if (!result.ok) rt.metrics.probeFailures.inc({ service: service.key, target });
          return result;
        }),
      );
      if (watch && results.some((result) => !result.ok)) onFailure();
    },
  };
}
