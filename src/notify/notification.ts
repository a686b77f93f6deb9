import type { NOTIFY_EVENTS } from '../config/schema/notify.js';

export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number];

/** One thing worth telling a person, in a form every target can render. */
export interface Notification {
  kind: NotifyEventKind;
  /** The Cloud Run service concerned, when there is one. */
  service?: string;
  /** One line, e.g. "rolled back api to api-00041-abc". */
  title: string;
  /** A few lines of detail for chat. */
  text: string;
  /** Structured facts for the JSON webhook (revisions, rule, values, restore point...). */
  details: Record<string, unknown>;
  /** ISO-8601 time the event happened. */
  at: string;
}

/**
 * An outgoing notification channel. `send` delivers one notification or throws; it must honour
 * `signal` (the dispatcher aborts slow deliveries). Implementations do not retry: the dispatcher does.
 */
export interface NotifierTarget {
  readonly name: string;
  send(notification: Notification, signal: AbortSignal): Promise<void>;
}
