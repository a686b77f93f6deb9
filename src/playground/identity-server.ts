import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IdentityAuthority } from './identity.js';

export interface IdentityServerOptions {
  host: string;
  port: number;
  project: string;
  authority: IdentityAuthority;
  /** The metadata server's default service account: whose tokens it hands out. */
  serviceAccount: string;
  /** Target service account -> principals holding roles/iam.serviceAccountTokenCreator on it. */
  tokenCreators: Map<string, Set<string>>;
}

export interface IdentityServer {
  /** host:port, for GCE_METADATA_HOST. */
  readonly metadataHost: string;
  /** Base URL of the IAM Credentials API (the auth library's `endpoint` option). */
  readonly iamEndpoint: string;
  close(): Promise<void>;
}

const METADATA = '/computeMetadata/v1/';
const FLAVOR = { 'metadata-flavor': 'Google' };

/**
 * One loopback HTTP server playing two Google endpoints the auth library talks to: the GCE metadata
 * server (ID tokens for the default service account, its access token, project and universe), reached
 * through GCE_METADATA_HOST; and the IAM Credentials API's generateIdToken, for impersonation.
 */
export async function startIdentityServer(options: IdentityServerOptions): Promise<IdentityServer> {
  const server: Server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://metadata');
    if (url.pathname.startsWith(METADATA)) return metadata(options, req, res, url);
    if (req.method === 'POST' && url.pathname.endsWith(':generateIdToken'))
      return generateIdToken(options, req, res, url);
    sendJson(res, 404, {
      error: { code: 404, message: `no such endpoint ${url.pathname}`, status: 'NOT_FOUND' },
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    metadataHost: `${options.host}:${port}`,
    iamEndpoint: `http://${options.host}:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function metadata(options: IdentityServerOptions, req: IncomingMessage, res: ServerResponse, url: URL) {
  // The real server refuses requests without the header (it guards against SSRF).
  if (req.headers['metadata-flavor'] !== 'Google')
    return sendText(res, 403, 'Missing Metadata-Flavor:Google header.\n');
  const path = url.pathname.slice(METADATA.length).replace(/\/+$/, '');
  const account = /^instance\/service-accounts\/([^/]+)\/(identity|token|email)$/.exec(path);
  if (account) {
    const [, who, what] = account;
    if (who !== 'default' && who !== options.serviceAccount)
      return sendText(res, 404, 'no such service account\n');
    if (what === 'email') return sendText(res, 200, options.serviceAccount);
    if (what === 'token') {
      const issued = options.authority.issueAccessToken(options.serviceAccount);
      return sendJson(
        res,
        200,
        { access_token: issued.token, expires_in: issued.expiresInSec, token_type: 'Bearer' },
        FLAVOR,
      );
    }
    const audience = url.searchParams.get('audience');
    if (!audience) return sendText(res, 400, 'non-empty audience parameter required\n');
    return sendText(res, 200, options.authority.signIdToken(options.serviceAccount, audience));
  }
  if (path === 'instance') return sendText(res, 200, 'attributes/\nservice-accounts/\n');
  if (path === 'project/project-id') return sendText(res, 200, options.project);
  if (path === 'universe/universe-domain') return sendText(res, 200, 'googleapis.com');
  sendText(res, 404, 'not found\n');
}

function generateIdToken(
  options: IdentityServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const target = /\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateIdToken$/.exec(url.pathname)?.[1];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const caller = bearer && options.authority.principalOf(bearer);
    if (!caller)
      return apiError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (!target) return apiError(res, 400, 'INVALID_ARGUMENT', 'expected projects/-/serviceAccounts/EMAIL');
    const email = decodeURIComponent(target);
    if (!options.tokenCreators.get(email)?.has(caller))
      return apiError(
        res,
        403,
        'PERMISSION_DENIED',
        `Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource ${email} for ${caller}`,
      );
    let body: { audience?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { audience?: unknown };
    } catch {
      return apiError(res, 400, 'INVALID_ARGUMENT', 'body is not JSON');
    }
    if (typeof body.audience !== 'string' || body.audience === '')
      return apiError(res, 400, 'INVALID_ARGUMENT', 'audience is required');
    sendJson(res, 200, { token: options.authority.signIdToken(email, body.audience) });
  });
}

function apiError(res: ServerResponse, code: number, status: string, message: string): void {
  sendJson(res, code, { error: { code, message, status } });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/text', ...FLAVOR });
  res.end(text);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}
