import type { Playground } from '../playground/index.js';

/** Users visiting a service until stopped; `stop` resolves once their last requests are answered. */
export interface SimulatedUsers {
  readonly rps: number;
  stop(): Promise<void>;
}

/**
 * Sends `rps` requests per second to the service URL (following its traffic split) in half-second
 * rounds until stopped, so the emulated Cloud Monitoring has request counts for every revision
 * that serves: without traffic there is no data to judge a deploy by.
 */
export function startSimulatedUsers(playground: Playground, service: string, rps: number): SimulatedUsers {
  const controller = new AbortController();
  const running = (async () => {
    while (!controller.signal.aborted) {
      await playground.driveTraffic(service, { rps, durationMs: 500, signal: controller.signal });
    }
  })();
  return {
    rps,
    stop: async () => {
      controller.abort();
      await running.catch(() => undefined);
    },
  };
}
