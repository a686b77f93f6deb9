import type { RuleConfig, ServiceConfig } from '../config/schema/services.js';
import { serviceKey } from '../config/schema/services.js';
import type { Rule } from '../core/rules.js';
import type { ServiceRef } from '../cloudrun/cloud-run-api.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { defaultLatencyMinRequests } from '../core/latency.js';

/** A ratio over fewer requests than this says too little (one 5xx of 10 is 10 %). */
const RATIO_MIN_REQUESTS = 20;

/** A configured service, ready for the watch: its key, where it lives, and its rules for the core. */
export interface WatchedService {
  /** The runwarden name (config `name`, else the Cloud Run name): store key, CLI --service, metrics label. */
  key: string;
  ref: ServiceRef;
  config: ServiceConfig;
  rules: Rule[];
  /** The guard's rules, judged on the serving revision after its promotion. */
  guardRules: Rule[];
}

export function watchedService(config: ServiceConfig): WatchedService {
  return {
    key: serviceKey(config),
    ref: { project: config.project, region: config.region, service: config.service },
    config,
    rules: config.rules.map(toRule),
    guardRules: config.guard.rules.map(toRule),
  };
}

export function toRule(rule: RuleConfig): Rule {
  if (rule.signal === 'latency')
    return {
      name: rule.name,
      signal: 'latency',
      percentile: rule.percentile,
      // The schema refused anything but a duration's text here.
      threshold: parseDuration(String(rule.threshold)) as number,
      windowMs: rule.window,
      minRequests: rule.min_requests ?? defaultLatencyMinRequests(rule.percentile),
      action: rule.action,
    };
  const common = { name: rule.name, threshold: Number(rule.threshold), action: rule.action };
  switch (rule.signal) {
    case 'requests':
      return {
        ...common,
        signal: 'requests',
        responseCodeClass: rule.response_code_class,
        responseCode: rule.response_code,
        measure: rule.measure,
        windowMs: rule.window,
        minRequests: rule.min_requests ?? RATIO_MIN_REQUESTS,
      };
    case 'health':
      return { ...common, signal: 'health' };
    case 'cpu':
    case 'memory':
      return { ...common, signal: rule.signal, percentile: rule.percentile, windowMs: rule.window };
  }
}

/** The configured service called `key`; a UsageError lists the known names otherwise. */
export function findService(services: readonly WatchedService[], key: string): WatchedService {
  const found = services.find((service) => service.key === key);
  if (found) return found;
  const known = services.map((service) => service.key);
  throw new UsageError(
    known.length === 0
      ? `unknown service "${key}": no services are configured (services: in the config)`
      : `unknown service "${key}"; configured: ${known.join(', ')}`,
  );
}
