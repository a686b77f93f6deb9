import type { NotifyTarget } from '../config/schema/notify.js';
import { errorMessage, RetryableError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { sleep } from '../util/sleep.js';
import { ChatTarget, JsonWebhookTarget } from './http-targets.js';
import type { Notification, NotifierTarget } from './notification.js';

export interface DispatcherOptions {
  logger: Logger;
  /** Attempts per delivery, counting the first. */
  attempts?: number;
  /** Delay before the second attempt; doubles after each. */
  backoffMs?: number;
  /** Called once per delivery with its outcome (metrics). */
  onResult?: (target: string, result: 'sent' | 'failed') => void;
}

interface Route {
  target: NotifierTarget;
  events: ReadonlySet<string>;
  timeoutMs: number;
}

/**
 * Fans notifications out to the configured targets in the background. `notify` returns at once and
 * never throws: a slow or failing target can never delay the rollback that caused the notification.
 * Each delivery is retried a few times on transient failures, each attempt bounded by the target's
 * timeout. `idle()` resolves once every delivery in flight has ended (tests and shutdown).
 */
export class NotificationDispatcher {
  readonly #routes: Route[];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #options: Required<Omit<DispatcherOptions, 'onResult'>> & Pick<DispatcherOptions, 'onResult'>;
  readonly #stop = new AbortController();

  constructor(targets: readonly NotifyTarget[], options: DispatcherOptions) {
    this.#options = { attempts: 3, backoffMs: 500, ...options };
    this.#routes = targets.map((target) => ({
      target:
        target.type === 'webhook'
          ? new JsonWebhookTarget(target.name, target.url)
          : new ChatTarget(target.name, target.url),
      events: new Set(target.events),
      timeoutMs: target.timeout,
    }));
  }

  /** Queues `notification` for every target subscribed to its kind. */
  notify(notification: Notification, only?: readonly string[]): void {
    for (const route of this.#routes) {
      if (!route.events.has(notification.kind)) continue;
      if (only && !only.includes(route.target.name)) continue;
      const delivery = this.#deliver(route, notification);
      this.#inFlight.add(delivery);
      void delivery.finally(() => this.#inFlight.delete(delivery));
    }
  }

  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Shutdown: lets deliveries in flight finish for up to `graceMs` (a rollback notification sent
   * just before SIGTERM should still arrive), then abandons the rest.
   */
  async close(graceMs = 3_000): Promise<void> {
    const timer = setTimeout(() => this.#stop.abort(), graceMs);
    await this.idle();
    clearTimeout(timer);
    this.#stop.abort();
  }

  async #deliver(route: Route, notification: Notification): Promise<void> {
    const log = this.#options.logger;
    for (let attempt = 1; ; attempt++) {
      const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(route.timeoutMs)]);
      try {
        await route.target.send(notification, signal);
        this.#options.onResult?.(route.target.name, 'sent');
        return;
      } catch (error) {
        const retry = attempt < this.#options.attempts && !this.#stop.signal.aborted && isTransient(error);
        log.warn(
          { target: route.target.name, kind: notification.kind, attempt, err: errorMessage(error), retry },
          'notification failed',
        );
        if (!retry) {
          this.#options.onResult?.(route.target.name, 'failed');
          return;
        }
        // Shutdown ends the wait between attempts: the delivery is abandoned as failed.
        const stopped = await sleep(this.#options.backoffMs * 2 ** (attempt - 1), this.#stop.signal).then(
          () => false,
          () => true,
        );
        if (stopped) {
          this.#options.onResult?.(route.target.name, 'failed');
          return;
        }
      }
    }
  }
}

function isTransient(error: unknown): boolean {
  return error instanceof RetryableError || (error instanceof Error && error.name === 'TimeoutError');
}
