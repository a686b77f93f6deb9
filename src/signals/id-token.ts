import type { GoogleAuth, Impersonated } from 'google-auth-library';
import type { Clock } from '../core/clock.js';
import { errorMessage, RetryableError } from '../core/errors.js';
import { TOKEN_FAILED } from '../core/probe-auth.js';

/** Which token: its audience, and the service account to impersonate (unset: the credentials' own). */
export interface IdTokenRequest {
  audience: string;
  impersonate?: string | undefined;
}

/**
 * Google-signed ID tokens for probes of services that require authentication. A token is reused
 * until shortly before it expires. Rejects with a RetryableError RW_PROBE_TOKEN when none can be
 * had (its message never contains a token), or with the signal's reason.
 */
export interface IdTokenSource {
  token(request: IdTokenRequest, signal: AbortSignal): Promise<string>;
}

export interface GoogleIdTokenOptions {
  /** Base URL of the IAM Credentials API for impersonation; unset: Google's. */
  iamEndpoint?: string | undefined;
  /** Longest a token fetch may take. */
  timeoutMs: number;
  /**
   * A project id for the library, which otherwise looks one up (spawning `gcloud` or asking the
   * metadata server); ID tokens do not depend on it.
   */
  projectId?: string | undefined;
  clock?: Clock;
}

/** Where Application Default Credentials were found, as far as ID tokens are concerned. */
export type CredentialKind = 'service_account_key' | 'metadata_server' | 'other';

/** Refresh this long before expiry at most; a short-lived token is refreshed at 3/4 of its life. */
const REFRESH_BEFORE_MS = 5 * 60_000;

interface Cached {
  token: string;
  refreshAt: number;
}

/**
 * ID tokens through google-auth-library, loaded on the first token asked for (a daemon whose
 * services all probe without identity never loads it). Application Default Credentials: a
 * service-account key (GOOGLE_APPLICATION_CREDENTIALS), or the metadata server on Google Cloud;
 * personal `gcloud auth application-default login` credentials cannot mint ID tokens and say so.
 */
export class GoogleIdTokenSource implements IdTokenSource {
  readonly #options: GoogleIdTokenOptions;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<string>>();
  #auth: Promise<GoogleAuth> | undefined;
  readonly #impersonated = new Map<string, Promise<Impersonated>>();

  constructor(options: GoogleIdTokenOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  async token(request: IdTokenRequest, signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const key = `${request.impersonate ?? ''}\n${request.audience}`;
    const cached = this.#cache.get(key);
    if (cached && this.#clock() < cached.refreshAt) return cached.token;
    let fetching = this.#inFlight.get(key);
    if (!fetching) {
      fetching = this.#fetch(request).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, fetching);
    }
    const token = await abortable(fetching, signal, this.#options.timeoutMs);
    this.#cache.set(key, { token, refreshAt: refreshTime(token, this.#clock()) });
    return token;
  }

  /** Where the credentials come from (no network for a key file); for the configuration check. */
  async credentialKind(): Promise<{ kind: CredentialKind; email: string | null }> {
    const { JWT, Compute } = await import('google-auth-library');
    const client = await (await this.#googleAuth()).getClient();
    if (client instanceof JWT) return { kind: 'service_account_key', email: client.email ?? null };
    if (client instanceof Compute) return { kind: 'metadata_server', email: null };
    return { kind: 'other', email: null };
  }

  async #fetch(request: IdTokenRequest): Promise<string> {
    try {
      if (request.impersonate) {
        const client = await this.#impersonatedClient(request.impersonate);
        return await client.fetchIdToken(request.audience, { includeEmail: true });
      }
      const client = await (await this.#googleAuth()).getIdTokenClient(request.audience);
      return await client.idTokenProvider.fetchIdToken(request.audience);
    } catch (error) {
      const who = request.impersonate ? ` as ${request.impersonate}` : '';
      throw new RetryableError(TOKEN_FAILED, `cannot get an ID token${who}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  #googleAuth(): Promise<GoogleAuth> {
    this.#auth ??= import('google-auth-library').then(
      ({ GoogleAuth }) =>
        new GoogleAuth({
          scopes: ['https://www.googleapis.com/auth/cloud-platform'],
          ...(this.#options.projectId ? { projectId: this.#options.projectId } : {}),
        }),
    );
    return this.#auth;
  }

  #impersonatedClient(target: string): Promise<Impersonated> {
    let client = this.#impersonated.get(target);
    if (!client) {
      client = (async () => {
        const { Impersonated } = await import('google-auth-library');
        const sourceClient = await (await this.#googleAuth()).getClient();
        return new Impersonated({
          sourceClient,
          targetPrincipal: target,
          targetScopes: ['https://www.googleapis.com/auth/cloud-platform'],
          ...(this.#options.iamEndpoint ? { endpoint: this.#options.iamEndpoint.replace(/\/+$/, '') } : {}),
        });
      })();
      // A failure to build is not kept: the next probe tries again.
      client.catch(() => this.#impersonated.delete(target));
      this.#impersonated.set(target, client);
    }
    return client;
  }
}

/** When to fetch a new token: 5 min before `exp`, or at 3/4 of a shorter life; now when unreadable. */
export function refreshTime(token: string, now: number): number {
  const claims = readClaims(token);
  if (!claims || typeof claims.exp !== 'number') return now;
  const expiresAt = claims.exp * 1000;
  const issuedAt = typeof claims.iat === 'number' ? claims.iat * 1000 : now;
  const before = Math.min(REFRESH_BEFORE_MS, Math.max(0, expiresAt - issuedAt) / 4);
  return expiresAt - before;
}

function readClaims(token: string): { exp?: unknown; iat?: unknown } | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown; iat?: unknown };
  } catch {
    return undefined;
  }
}

/** `work`, given up on when `signal` aborts or `timeoutMs` passes (the fetch itself cannot be cancelled). */
async function abortable<T>(work: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(
        signal.aborted
          ? signal.reason
          : new RetryableError(TOKEN_FAILED, `cannot get an ID token: no answer within ${timeoutMs} ms`),
      );
    both.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) both.removeEventListener('abort', onAbort);
  }
}
