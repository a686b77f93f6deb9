import type { Config } from '../config/schema.js';
import type { Scheduler } from '../daemon/scheduler.js';
import type { WorkTracker } from '../daemon/work.js';
import type { EventBus } from '../events/event-bus.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { App } from './app.js';

/** Everything the daemon's parts share: the app's parts, opened, and the daemon's scheduler. */
export interface DaemonContext {
  app: App;
  config: Config;
  logger: Logger;
  store: Store;
  metrics: Metrics;
  events: EventBus;
  work: WorkTracker;
  scheduler: Scheduler;
}

export interface RunningDaemon {
  readonly context: DaemonContext;
  /** The bound "host:port" of the HTTP server. */
  readonly address: string;
  /** Graceful stop: no new work, running work gets the grace period, then everything closes. */
  stop(reason: string): Promise<{ aborted: string[] }>;
  /** SIGHUP: reads the TLS certificate files again (the only thing reloaded without a restart). */
  reload(reason: string): void;
}
