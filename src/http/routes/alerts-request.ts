import type { z } from 'zod';
import { formatIssues } from '../../config/issues.js';
import type { Logger } from '../../telemetry/logger.js';
import type { AlertMetrics, RefusalReason, WebhookRoute } from '../../telemetry/metrics-alerts.js';
import type { WebhookAuthenticator } from '../auth.js';
import { hasVerifiedClientCertificate } from '../client-address.js';
import type { InFlightLimit } from '../in-flight-limit.js';
import { JsonDepthScan, MAX_JSON_DEPTH } from '../json-depth.js';
import { HttpError, type HttpResponse, json, type RequestContext, type RouteHandler } from '../router.js';

/** What every authenticated JSON webhook needs to vet a request. */
export interface WebhookGuard {
  auth: WebhookAuthenticator;
  metrics: AlertMetrics;
  logger: Logger;
  /** Webhook requests handled at once, shared by every webhook route. */
  limit: InFlightLimit;
}

const STATUS: Record<RefusalReason, number> = {
  unauthorized: 401,
  body_too_large: 413,
  too_deep: 400,
  bad_request: 400,
  unknown_service: 422,
  too_many_requests: 503,
};

/** Refusals answered before the body was read to its end: the connection is closed, not kept alive. */
const CLOSES: ReadonlySet<RefusalReason> = new Set(['body_too_large', 'too_deep', 'too_many_requests']);

/** Seconds a sender refused for `too_many_requests` is asked to wait. */
const RETRY_AFTER_SECONDS = 1;

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
    {
      route,
      reason,
      remote: context.remote,
      ...(context.peer !== context.remote ? { peer: context.peer } : {}),
      problems: shown,
    },
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
  if (CLOSES.has(reason)) response.headers = { ...response.headers, connection: 'close' };
  if (reason === 'too_many_requests')
    response.headers = { ...response.headers, 'retry-after': String(RETRY_AFTER_SECONDS) };
  return response;
}

/**
 * Runs `handler` in one of the guard's in-flight slots: past the limit the request is refused with
 * 503 and Retry-After before a byte of its body is read, so concurrency cannot grow memory either.
 * The slot is held until the handler has answered (or failed).
 */
export function limited(guard: WebhookGuard, route: WebhookRoute, handler: RouteHandler): RouteHandler {
  return async (context) => {
    const release = guard.limit.tryAcquire();
    if (!release) {
      context.req.resume();
      return refuse(
        guard,
        context,
        route,
        'too_many_requests',
        `more than ${guard.limit.max} webhook requests at once (alerts.max_concurrent_requests); retry later`,
      );
    }
    try {
      return await handler(context);
    } finally {
      release();
    }
  };
}

/** A body nesting deeper than the limit, found while it streamed in (before JSON.parse). */
class TooDeepError extends Error {
  readonly limit: number;

  constructor(limit: number) {
    super(`body nests deeper than ${limit} levels`);
    this.limit = limit;
  }
}

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
  const authenticated = guard.auth.check({
    authorization: context.req.headers.authorization,
    // Cloud Monitoring's token-auth channel can only put its token in the URL; no other sender
    // needs to, so no other route takes a credential from the query.
    queryToken:
      route === 'cloud_monitoring' ? (context.url.searchParams.get('auth_token') ?? undefined) : undefined,
    verifiedClientCertificate: hasVerifiedClientCertificate(context.req),
  });
  if (!authenticated) {
    context.req.resume();
    return { ok: false, response: refuse(guard, context, route, 'unauthorized') };
  }
  let body: Buffer;
  const depth = new JsonDepthScan(MAX_JSON_DEPTH);
  try {
    body = await context.readBody((chunk) => {
      if (!depth.push(chunk)) throw new TooDeepError(depth.limit);
    });
  } catch (error) {
    if (error instanceof HttpError && error.status === 413)
      return { ok: false, response: refuse(guard, context, route, 'body_too_large', error.message) };
    if (error instanceof TooDeepError)
      return {
        ok: false,
        response: refuse(guard, context, route, 'too_deep', error.message, [
          `(body): arrays and objects nest more than ${error.limit} levels deep`,
        ]),
      };
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
        // Only the problems shown are formatted: one unknown-key issue can name thousands of keys.
        formatIssues(result.error.issues.slice(0, MAX_PROBLEMS)),
      ),
    };
  }
  return { ok: true, value: result.data };
}
