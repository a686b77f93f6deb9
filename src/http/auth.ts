import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebhookAuthConfig } from '../config/schema/alerts.js';

/** What a webhook request offers as proof of who sent it. */
export interface WebhookCredentials {
  /** The `Authorization` header. */
  authorization: string | undefined;
  /** The `auth_token` query parameter, passed only by the routes that accept one (Cloud Monitoring). */
  queryToken?: string | undefined;
  /** True when the connection presented a client certificate that the configured client CA verified. */
  verifiedClientCertificate?: boolean;
}

/**
 * Checks a webhook request's credentials against the configured bearer token, basic-auth
 * credentials, Cloud Monitoring query token and mutual TLS; any one that matches authenticates.
 * Secrets are compared in constant time over SHA-256 digests, so neither the length nor the first
 * wrong byte of a guess shows in the timing. With nothing configured, every request is refused.
 */
export interface WebhookAuthenticator {
  /** True when some credential is configured; otherwise `check` always fails. */
  readonly configured: boolean;
  /** The `WWW-Authenticate` value sent with a 401 (the same for missing and wrong credentials). */
  readonly challenge: string;
  check(credentials: WebhookCredentials): boolean;
}

export interface WebhookAuthOptions {
  /** Mutual TLS is on: a verified client certificate is a credential. */
  clientCertificates?: boolean;
}

export function createWebhookAuthenticator(
  config: WebhookAuthConfig,
  options: WebhookAuthOptions = {},
): WebhookAuthenticator {
  const token = config.bearer_token === undefined ? undefined : digest(config.bearer_token);
  const queryToken =
    config.cloud_monitoring_token === undefined ? undefined : digest(config.cloud_monitoring_token);
  const basic =
    config.basic_username === undefined || config.basic_password === undefined
      ? undefined
      : { user: digest(config.basic_username), password: digest(config.basic_password) };
  const clientCertificates = options.clientCertificates === true;
  const configured =
    token !== undefined || basic !== undefined || queryToken !== undefined || clientCertificates;
  const checkHeader = (authorization: string | undefined): boolean => {
    if (authorization === undefined) return false;
    const space = authorization.indexOf(' ');
    if (space <= 0) return false;
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer') return token !== undefined && same(digest(value), token);
    if (scheme === 'basic' && basic !== undefined) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return false;
      // Both halves are always compared, so a right user name does not answer faster.
      const userOk = same(digest(decoded.slice(0, colon)), basic.user);
      const passwordOk = same(digest(decoded.slice(colon + 1)), basic.password);
      return userOk && passwordOk;
    }
    return false;
  };
  return {
    configured,
    challenge: token !== undefined ? 'Bearer realm="runwarden"' : 'Basic realm="runwarden", charset="UTF-8"',
    check(credentials) {
      if (!configured) return false;
      if (clientCertificates && credentials.verifiedClientCertificate === true) return true;
      if (queryToken !== undefined && credentials.queryToken !== undefined)
        if (same(digest(credentials.queryToken), queryToken)) return true;
      return checkHeader(credentials.authorization);
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function same(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}
