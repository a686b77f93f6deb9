import { cooldownHolds } from '../core/rollback-plan.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { AlertMetrics, AlertOutcome } from '../telemetry/metrics-alerts.js';
import type { ReceivedAlert } from '../core/alert.js';
import type { AlertsRepo, DeliveryOutcome } from '../store/alerts-repo.js';
import { type AlertMatch, type MatchableService, type MatchRules, matchAlert } from './match.js';
import type { AlertRollbackPort, AlertRollbackResult } from './rollback-port.js';

/** A service the receivers may roll back, with the knobs that apply to alerts. */
export interface AlertableService extends MatchableService {
  /**
   * After an alert made this service roll back, further alerts are refused for this long (ms),
   * unless a deploy newer than that rollback is being watched.
   */
  cooldownMs: number;
  dryRun: boolean;
}

export interface AlertReceiverOptions {
  services: readonly AlertableService[];
  /** Which label names the service, per source. */
  rules: Record<ReceivedAlert['source'], MatchRules>;
  /** A delivered alert is remembered this long (ms). */
  dedupeWindowMs: number;
  /** When the deploy the service's open watch is watching was first seen (ms), if one is watched. */
  watchedSince?: (service: string) => number | undefined;
  /** Every alert-triggered rollback is a dry run. */
  dryRun: boolean;
  repo: AlertsRepo;
  rollback: AlertRollbackPort;
  metrics: AlertMetrics;
  logger: Logger;
  /** Runs the rollback as tracked daemon work, so a shutdown waits for it and a hung-up sender cannot abort it. */
  runWork: <T>(name: string, work: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  now?: () => number;
}

/** What became of one alert of a delivery; the receivers answer with the list. */
export interface AlertReport {
  name: string;
  fingerprint: string;
  outcome: AlertOutcome;
  service?: string;
  toRevision?: string;
  detail?: string;
}

/** Thrown before anything acts when an alert addressed to runwarden names no configured service. */
export class UnknownServiceError extends Error {
  readonly problems: readonly { index: number; label: string; detail: string }[];

  constructor(problems: UnknownServiceError['problems']) {
    super('an alert names no configured service');
    this.problems = problems;
  }
}

type Settled = { result: AlertRollbackResult } | { error: unknown };

/**
 * Turns alerts into at most one rollback per service: resolved and unaddressed alerts do nothing,
 * a repeated delivery acts once, an alert arriving while its service's rollback runs joins it, and
 * after an alert-triggered rollback the service's cooldown refuses further alerts (unless a newer
 * deploy is being watched). A refused alert is not remembered as handled: its repeat is decided again.
 */
export class AlertReceiver {
  readonly #options: AlertReceiverOptions;
  readonly #services: Map<string, AlertableService>;
  /** Rollbacks in progress, by service; checked and set with no await in between. */
  readonly #inFlight = new Map<string, Promise<Settled>>();

  constructor(options: AlertReceiverOptions) {
    this.#options = options;
    this.#services = new Map(options.services.map((service) => [service.key, service]));
  }

  /**
   * Handles one delivery. Throws UnknownServiceError (and acts on nothing) when any alert asking for
   * a rollback names no configured service. Never throws for a failed rollback: its report says
   * `failed` and its dedupe claim is released so the sender's retry can act.
   */
  async receive(alerts: readonly ReceivedAlert[]): Promise<AlertReport[]> {
    const options = this.#options;
    const matches = alerts.map((alert) => matchAlert(alert, options.rules[alert.source], options.services));
    const unknown = matches.flatMap((match, index) =>
      match.kind === 'unknown_service' ? [{ index, label: match.label, detail: match.detail }] : [],
    );
    if (unknown.length > 0) throw new UnknownServiceError(unknown);
    const now = new Date(this.#now());
    const forgetBefore = new Date(now.getTime() - options.dedupeWindowMs);
    for (const alert of alerts) options.metrics.delivery(alert.source, now.getTime());
    // Every gate decision below is synchronous, so concurrent deliveries cannot both start a rollback.
    // The claims see the dedupe window themselves, so the prune (a write that decides nothing)
    // waits until the rollbacks are done instead of delaying them.
    const pending = alerts.map((alert, index) =>
      this.#handle(alert, matches[index] as AlertMatch, now, forgetBefore),
    );
    const reports = await Promise.all(pending);
    options.repo.prune(forgetBefore);
    reports.forEach((report, index) => {
      options.metrics.alert((alerts[index] as ReceivedAlert).source, report.outcome);
    });
    return reports;
  }

  #handle(
    alert: ReceivedAlert,
    match: AlertMatch,
    now: Date,
    forgetBefore: Date,
  ): AlertReport | Promise<AlertReport> {
    const base = { name: alert.name, fingerprint: alert.fingerprint };
    if (match.kind === 'resolved') return { ...base, outcome: 'resolved' };
    if (match.kind !== 'act') return { ...base, outcome: 'ignored' };
    const { repo } = this.#options;
    const service = this.#services.get(match.service) as AlertableService;
    const reportBase = { ...base, service: service.key };
    if (!repo.claim(alert, service.key, now, forgetBefore)) return { ...reportBase, outcome: 'duplicate' };
    const running = this.#inFlight.get(service.key);
    if (running) return this.#join(alert, running, reportBase);
    const last = repo.lastActedAt(service.key);
    if (
      last !== undefined &&
      cooldownHolds({
        now: now.getTime(),
        cooldownMs: service.cooldownMs,
        lastActedAt: last,
        watchedSince: this.#options.watchedSince?.(service.key),
      })
    ) {
      const detail = `an alert rolled ${service.key} back at ${new Date(last).toISOString()}, within the cooldown`;
      repo.settle(alert.dedupeKey, 'cooldown', undefined, detail);
      this.#options.logger.info(
        { service: service.key, alert: alert.name },
        'alert refused: service in cooldown',
      );
      return { ...reportBase, outcome: 'cooldown', detail };
    }
    const attempt = this.#start(alert, service);
    this.#inFlight.set(service.key, attempt);
    void attempt.finally(() => this.#inFlight.delete(service.key));
    return this.#settle(alert, attempt, reportBase, false);
  }

  #start(alert: ReceivedAlert, service: AlertableService): Promise<Settled> {
    const dryRun = this.#options.dryRun || service.dryRun;
    const reason = `alert ${alert.name} (${alert.source} ${alert.fingerprint})${alert.summary ? `: ${alert.summary}` : ''}`;
    this.#options.logger.warn(
      {
        service: service.key,
        alert: alert.name,
        fingerprint: alert.fingerprint,
        labels: alert.labels,
        dry_run: dryRun,
      },
      'alert asks for a rollback',
    );
    const request = {
      service: service.key,
      reason,
      dryRun,
      alert: { source: alert.source, fingerprint: alert.fingerprint, name: alert.name, labels: alert.labels },
    };
    return this.#options
      .runWork(`alert rollback of ${service.key}`, (signal) =>
        this.#options.rollback.rollback(request, signal),
      )
      .then(
        (result): Settled => {
          if (result.kind === 'rolled_back' || result.kind === 'dry_run')
            this.#options.repo.recordAction(service.key, new Date(this.#now()), result.kind === 'dry_run');
          return { result };
        },
        (error: unknown): Settled => ({ error }),
      );
  }

  async #join(alert: ReceivedAlert, running: Promise<Settled>, base: Omit<AlertReport, 'outcome'>) {
    return this.#settle(alert, running, base, true);
  }

  async #settle(
    alert: ReceivedAlert,
    attempt: Promise<Settled>,
    base: Omit<AlertReport, 'outcome'>,
    joined: boolean,
  ): Promise<AlertReport> {
    const { repo, logger } = this.#options;
    const settled = await attempt;
    if ('error' in settled) {
      repo.release(alert.dedupeKey);
      if (!joined)
        logger.error(
          { service: base.service, alert: alert.name, err: errorMessage(settled.error) },
          'alert rollback failed',
        );
      return { ...base, outcome: 'failed', detail: errorMessage(settled.error) };
    }
    const report = reportFor(settled.result, joined);
    repo.settle(alert.dedupeKey, deliveryOutcome(report.outcome), report.toRevision, report.detail);
    return { ...base, ...report };
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}

function reportFor(
  result: AlertRollbackResult,
  joined: boolean,
): Pick<AlertReport, 'outcome' | 'toRevision' | 'detail'> {
  // Joining a rollback that was refused is a refusal too, so this alert's repeat is decided again.
  if (joined && result.kind === 'refused')
    return {
      outcome: result.reason === 'cooldown' ? 'cooldown' : 'refused',
      detail: `joined the rollback already under way, which was refused: ${result.reason}: ${result.detail}`,
    };
  if (joined) {
    const toRevision = 'to' in result ? result.to : undefined;
    return {
      outcome: 'coalesced',
      toRevision,
      detail: `joined the rollback already under way (${result.kind})`,
    };
  }
  switch (result.kind) {
    case 'rolled_back':
      return {
        outcome: 'rolled_back',
        toRevision: result.to,
        detail: `from ${result.from.join(', ') || 'nothing'}`,
      };
    case 'dry_run':
      return {
        outcome: 'dry_run',
        toRevision: result.to,
        detail: `dry run: would move traffic from ${result.from.join(', ') || 'nothing'}`,
      };
    case 'noop':
      return { outcome: 'already_on_target', toRevision: result.to };
    case 'refused':
      return {
        outcome: result.reason === 'cooldown' ? 'cooldown' : 'refused',
        detail: `${result.reason}: ${result.detail}`,
      };
  }
}

function deliveryOutcome(outcome: AlertOutcome) {
  return outcome as Exclude<DeliveryOutcome, 'pending'>;
}
