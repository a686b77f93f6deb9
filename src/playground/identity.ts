import { createSign, createVerify, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';

/** Who may call a private service, and which audiences it accepts besides its own URL. */
export interface ServiceAccess {
  /** Principals (service account emails) holding roles/run.invoker on the service. */
  invokers: string[];
  /** Custom audiences (Cloud Run's `--add-custom-audiences`); the service URL is always accepted. */
  audiences?: string[];
}

export interface IdTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  email: string;
  email_verified: boolean;
  azp: string;
  iat: number;
  exp: number;
}

/** Why a token was refused: 401 (missing, malformed, bad signature, expired) or 403 (audience, role). */
export interface Refusal {
  status: 401 | 403;
  reason: string;
}

const ISSUER = 'https://accounts.google.com';

/**
 * The playground's stand-in for Google's token signer: it signs RS256 ID tokens with an RSA key it
 * generates at start, issues opaque access tokens for the metadata server's service account, and
 * checks both as Cloud Run's front end and the IAM Credentials API would.
 */
export class IdentityAuthority {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #kid = randomBytes(8).toString('hex');
  readonly #accessTokens = new Map<string, { email: string; expiresAt: number }>();
  readonly #clock: () => number;
  /** Lifetime of every ID token, in seconds (Google's is 3600; tests shorten it). */
  tokenLifetimeSec = 3600;
  /** ID tokens signed so far. */
  minted = 0;

  constructor(clock: () => number) {
    this.#clock = clock;
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#privateKey = pair.privateKey;
    this.#publicKey = pair.publicKey;
  }

  /** A signed ID token for `email` with audience `audience`. */
  signIdToken(email: string, audience: string): string {
    const iat = Math.floor(this.#clock() / 1000);
    const claims: IdTokenClaims = {
      iss: ISSUER,
      aud: audience,
      sub: subjectOf(email),
      email,
      email_verified: true,
      azp: email,
      iat,
      exp: iat + this.tokenLifetimeSec,
    };
    const head = base64url(JSON.stringify({ alg: 'RS256', kid: this.#kid, typ: 'JWT' }));
    const body = base64url(JSON.stringify(claims));
    const signature = createSign('RSA-SHA256').update(`${head}.${body}`).sign(this.#privateKey, 'base64url');
    this.minted += 1;
    return `${head}.${body}.${signature}`;
  }

  /** An opaque OAuth access token for `email` (what the metadata server's token endpoint hands out). */
  issueAccessToken(email: string): { token: string; expiresInSec: number } {
    const token = `ya29.playground-${randomBytes(16).toString('hex')}`;
    this.#accessTokens.set(token, { email, expiresAt: this.#clock() + 3600_000 });
    return { token, expiresInSec: 3600 };
  }

  /** The principal an access token was issued to, or undefined when it is unknown or expired. */
  principalOf(accessToken: string): string | undefined {
    const entry = this.#accessTokens.get(accessToken);
    return entry && this.#clock() < entry.expiresAt ? entry.email : undefined;
  }

  /**
   * Checks an Authorization header as Cloud Run's front end does: a valid signature, not expired,
   * an accepted audience (the service URL or a custom one), and a principal with run.invoker.
   */
  check(authorization: string | undefined, serviceUrl: string, access: ServiceAccess): Refusal | undefined {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return { status: 401, reason: 'no bearer token' };
    const claims = this.verify(match[1]);
    if ('status' in claims) return claims;
    const accepted = [serviceUrl, ...(access.audiences ?? [])];
    if (!accepted.includes(claims.aud)) return { status: 403, reason: `audience ${claims.aud} not accepted` };
    if (!access.invokers.includes(claims.email))
      return { status: 403, reason: `${claims.email} lacks roles/run.invoker` };
    return undefined;
  }

  /** The claims of a token this authority signed and that has not expired; a 401 refusal otherwise. */
  verify(token: string): IdTokenClaims | Refusal {
    const [head, body, signature] = token.split('.');
    if (!head || !body || !signature) return { status: 401, reason: 'malformed token' };
    const valid = createVerify('RSA-SHA256')
      .update(`${head}.${body}`)
      .verify(this.#publicKey, signature, 'base64url');
    if (!valid) return { status: 401, reason: 'bad signature' };
    let claims: IdTokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as IdTokenClaims;
    } catch {
      return { status: 401, reason: 'malformed claims' };
    }
    if (claims.iss !== ISSUER) return { status: 401, reason: 'unknown issuer' };
    if (typeof claims.exp !== 'number' || this.#clock() >= claims.exp * 1000)
      return { status: 401, reason: 'token expired' };
    return claims;
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** A stable numeric-looking subject per email, as Google's are. */
function subjectOf(email: string): string {
  let hash = 0n;
  for (const char of email) hash = (hash * 131n + BigInt(char.charCodeAt(0))) % 10n ** 21n;
  return hash.toString().padStart(21, '1');
}
