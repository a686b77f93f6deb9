import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { formatIssues } from '../../config/issues.js';
import type { Logger } from '../../telemetry/logger.js';
import type { AlertMetrics, RefusalReason, WebhookRoute } from '../../telemetry/metrics-alerts.js';
import type { WebhookAuthenticator } from '../auth.js';
import { HttpError, type HttpResponse, json, type RequestContext } from '../router.js';

/** What every authenticated JSON webhook needs to vet a request. */
export interface WebhookGuard {
  auth: WebhookAuthenticator;
  metrics: AlertMetrics;
  logger: Logger;
}

const STATUS: Record<RefusalReason, number> = {
  unauthorized: 401,
  body_too_large: 413,
  bad_request: 400,
  unknown_service: 422,
};

/** Problems listed in a response are cut short: a refusal must stay small whatever was sent. */
const MAX_PROBLEMS = 20;
const MAX_PROBLEM_CHARS = 300;

/**
 * A refusal: logged (never with the body or credentials), counted by route and reason, answered
 * with the reason's status. 401 says nothing about what was wrong.
 */
export function refuse(
  guard: WebhookGuard,
  context: RequestContext,
  route: WebhookRoute,
  reason: RefusalReason,
  error?: string,
  problems: readonly string[] = [],
): HttpResponse {
  const shown = problems
    .slice(0, MAX_PROBLEMS)
    .map((line) => (line.length > MAX_PROBLEM_CHARS ? `${line.slice(0, MAX_PROBLEM_CHARS)}...` : line));
  guard.metrics.refused(route, reason);
  guard.logger.warn(
    { route, reason, remote: remotes.get(context.req) ?? context.req.socket?.remoteAddress, problems: shown },
    'webhook request refused',
  );
  if (reason === 'unauthorized') {
    const response = json(401, { error: 'unauthorized' });
    // The connection is closed: an unauthenticated sender gets no keep-alive to push more bytes down.
    return {
      ...response,
      headers: { ...response.headers, 'www-authenticate': guard.auth.challenge, connection: 'close' },
    };
  }
  const response = json(STATUS[reason], { error, ...(shown.length > 0 ? { problems: shown } : {}) });
  if (reason === 'body_too_large') response.headers = { ...response.headers, connection: 'close' };
  return response;
}

/** The sender's address, noted on arrival: a refused body stream can take the socket with it. */
const remotes = new WeakMap<IncomingMessage, string | undefined>();

export type Vetted<T> = { ok: true; value: T } | { ok: false; response: HttpResponse };

/**
 * Authenticates before reading a byte of the body, then reads it within the server's limit, parses
 * JSON and validates it with `schema`. Anything wrong comes back as a refusal response.
 */
export async function vetJson<S extends z.ZodType>(
  guard: WebhookGuard,
  context: RequestContext,
  route: WebhookRoute,
  schema: S,
): Promise<Vetted<z.output<S>>> {
  remotes.set(context.req, context.req.socket?.remoteAddress);
  const header = context.req.headers.authorization;
  if (!guard.auth.check(header)) {
    context.req.resume();
    return { ok: false, response: refuse(guard, context, route, 'unauthorized') };
  }
  let body: Buffer;
  try {
    body = await context.readBody();
  } catch (error) {
    if (error instanceof HttpError && error.status === 413)
      return { ok: false, response: refuse(guard, context, route, 'body_too_large', error.message) };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    const detail = (error as Error).message;
    return {
      ok: false,
      response: refuse(guard, context, route, 'bad_request', 'body is not valid JSON', [`(body): ${detail}`]),
    };
  }
  const result = schema.safeParse(parsed, { reportInput: true });
  if (!result.success) {
    return {
      ok: false,
      response: refuse(
        guard,
        context,
        route,
        'bad_request',
        'body has the wrong shape',
        formatIssues(result.error.issues),
      ),
    };
  }
  return { ok: true, value: result.data };
}
