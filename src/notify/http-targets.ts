import { request } from 'undici';
import { RetryableError, FatalError } from '../core/errors.js';
import type { Notification, NotifierTarget } from './notification.js';

/** POSTs a JSON document per notification: `{ kind, service, title, text, details, at, source }`. */
export class JsonWebhookTarget implements NotifierTarget {
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  send(notification: Notification, signal: AbortSignal): Promise<void> {
    return postJson(this.name, this.url, { source: 'runwarden', ...notification }, signal);
  }
}

/**
 * Posts chat-compatible text: Slack incoming webhooks and Google Chat webhooks both accept
 * `{ "text": ... }`, so one target serves both.
 */
export class ChatTarget implements NotifierTarget {
  constructor(
    readonly name: string,
    private readonly url: string,
  ) {}

  send(notification: Notification, signal: AbortSignal): Promise<void> {
    return postJson(this.name, this.url, { text: `*${notification.title}*\n${notification.text}` }, signal);
  }
}

async function postJson(target: string, url: string, body: unknown, signal: AbortSignal): Promise<void> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'runwarden' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    throw new RetryableError('RW_NOTIFY_SEND', `notify ${target}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  await response.body.dump();
  if (response.statusCode >= 500 || response.statusCode === 429) {
    throw new RetryableError('RW_NOTIFY_STATUS', `notify ${target}: HTTP ${response.statusCode}`);
  }
  if (response.statusCode >= 300) {
    throw new FatalError('RW_NOTIFY_STATUS', `notify ${target}: HTTP ${response.statusCode}`);
  }
}
