import type { CloudRunApi } from '../cloudrun/cloud-run-api.js';
import type { Clock } from '../core/clock.js';
import type { WindowOptions } from '../core/rules.js';
import type { EventBus } from '../events/event-bus.js';
import type { Leadership } from '../lease/leadership.js';
import type { HealthProber } from '../signals/health-probe.js';
import type { IdTokenSource } from '../signals/id-token.js';
import type { MetricSource } from '../signals/metric-source.js';
import type { SmokeChecker } from '../signals/smoke-check.js';
import type { WatchStore } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';
import type { WatchMetrics } from '../telemetry/metrics-watch.js';
import type { LiveState } from './live-state.js';
import type { PreDeployBackup, SchemaInspector } from './ports.js';
import type { RegionPolls } from './region-polls.js';
import type { WatchedService } from './watched-service.js';

/**
 * Everything the deploy watch, the rollback path and the manual commands work with. Built once by
 * the composition root (the daemon or a CLI command); tests build it around the emulator.
 */
export interface WatchRuntime {
  services: readonly WatchedService[];
  store: WatchStore;
  cloudRun: CloudRunApi;
  metricSource: MetricSource;
  prober: HealthProber;
  /** Smoke checks of a tagged no-traffic candidate at its tag URL. */
  smoke: SmokeChecker;
  /** ID tokens for services with probe_auth id_token; null when no service has it. */
  idTokens: IdTokenSource | null;
  /** null: no pre-deploy backups can be taken (no backup configured). */
  backup: PreDeployBackup | null;
  /** null: the schema is not compared (the watch role without a bucket whose manifests it can read). */
  schema: SchemaInspector | null;
  events: EventBus;
  logger: Logger;
  metrics: WatchMetrics;
  clock: Clock;
  windows: WindowOptions;
  /** Longest a traffic update may take; the per-service action lease outlives it. */
  operationTimeoutMs: number;
  /** Who holds the action lease while this process acts: "daemon:<pid>" or "cli:<pid>". */
  owner: string;
  live: LiveState;
  /**
   * Whether this runwarden may change traffic on its own (the `watch` lease; always, with no
   * cluster). Checked right before every automatic UpdateService; a person's rollback is not gated.
   */
  leadership: Leadership;
  /** The watch ticks' reads of Cloud Run: one ListServices per project and region, shared. */
  regions: RegionPolls;
  /** Runs slow side work (the pre-deploy backup) without holding up the tick; shutdown waits for it. */
  background(name: string, work: (signal: AbortSignal) => Promise<void>): void;
}
