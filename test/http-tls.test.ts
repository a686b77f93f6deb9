import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { ConfigError } from '../src/core/errors.js';
import { healthRoutes } from '../src/http/routes/health.js';
import { HttpServer } from '../src/http/server.js';
import { createLogger } from '../src/telemetry/logger.js';
import { SLOWDOWN } from './helpers/deadlines.js';
import { useTempDir } from './helpers/temp.js';
import { httpsRequest, makeCa, makeCert, type Pem } from './helpers/tls-certs.js';
import { waitFor } from './helpers/wait.js';

const tempDir = useTempDir();
const servers: HttpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** The interval the servers below check their files at, and the bound derived from it. */
const CHECK = '100ms';
const CHECK_MS = 100;
const NOTICED = { ms: 2 * CHECK_MS * SLOWDOWN, basis: `two check_interval (${CHECK}) cycles x SLOWDOWN` };

/** Replaces `target` by `source` the way cert-manager and certbot do: a new file renamed over it. */
function replaceFile(source: string, target: string): void {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}

interface Started {
  base: string;
  dir: string;
  ca: Pem;
  live: Pem;
  lines: () => Array<Record<string, unknown>>;
  server: HttpServer;
}

/** An HTTPS server on 127.0.0.1:0 serving `live` (a copy of a certificate with serial 1001). */
async function start(options: { clientCa?: string } = {}): Promise<Started> {
  const dir = tempDir();
  const ca = makeCa(path.join(dir, 'ca'));
  const first = makeCert(ca, path.join(dir, 'made'), 'first', { serial: '1001', usage: 'server' });
  const live = { cert: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  const lines: string[] = [];
  const logger = createLogger({
    format: 'json',
    level: 'debug',
    destination: new Writable({
      write: (chunk, _encoding, done) => {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const config = configSchema.parse({
    server: {
      tls: {
        cert_file: live.cert,
        key_file: live.key,
        check_interval: CHECK,
        ...(options.clientCa ? { client_ca_file: options.clientCa } : {}),
      },
    },
  });
  const server = new HttpServer({
    address: '127.0.0.1:0',
    bodyLimitBytes: 1024,
    requestTimeoutMs: 5_000,
    logger,
    tls: config.server.tls,
    routes: healthRoutes({ problems: () => [] }),
  });
  servers.push(server);
  const base = `https://${await server.listen()}`;
  return {
    base,
    dir,
    ca,
    live,
    server,
    lines: () => lines.flatMap((line) => line.split('\n').filter(Boolean)).map((line) => JSON.parse(line)),
  };
}

const TLS11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;

describe('HTTPS (server.tls)', () => {
  it('serves TLS 1.2 and 1.3 and refuses TLS 1.1 in the handshake', async () => {
    const { base, ca, live } = await start();
    const tls12 = await httpsRequest(`${base}/healthz`, { ca: ca.cert, tls: { maxVersion: 'TLSv1.2' } });
    expect(tls12).toMatchObject({ status: 200, protocol: 'TLSv1.2', serial: '1001' });
    const tls13 = await httpsRequest(`${base}/healthz`, { ca: ca.cert });
    expect(tls13).toMatchObject({ status: 200, protocol: 'TLSv1.3' });
    await expect(httpsRequest(`${base}/healthz`, { ca: ca.cert, tls: TLS11 })).rejects.toThrow(
      /alert protocol version/,
    );

    // The same client does speak TLS 1.1 to a server that allows it: the refusal above is runwarden's.
    const old = createHttpsServer(
      { cert: readFileSync(live.cert), key: readFileSync(live.key), ...TLS11 },
      (_req, res) => res.end('old'),
    );
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    try {
      const port = (old.address() as AddressInfo).port;
      const answer = await httpsRequest(`https://127.0.0.1:${port}/`, { ca: ca.cert, tls: TLS11 });
      expect(answer).toMatchObject({ status: 200, protocol: 'TLSv1.1' });
    } finally {
      await new Promise((resolve) => old.close(resolve));
    }
  });

  it('serves a renewed certificate once the files change, and still refuses TLS 1.1 after it', async () => {
    const { base, dir, ca, live, lines } = await start();
    const renewed = makeCert(ca, path.join(dir, 'made'), 'renewed', { serial: '1002', usage: 'server' });
    replaceFile(renewed.key, live.key);
    replaceFile(renewed.cert, live.cert);
    await waitFor(
      async () =>
        (await httpsRequest(`${base}/healthz`, { ca: ca.cert })).serial === '1002' ? true : undefined,
      'the renewed certificate (serial 1002) to be served',
      NOTICED,
    );
    expect(lines().find((line) => line.message === 'TLS certificate reloaded')).toMatchObject({
      reason: 'files changed',
      file: live.cert,
      serial: '1002',
    });
    await expect(httpsRequest(`${base}/healthz`, { ca: ca.cert, tls: TLS11 })).rejects.toThrow(
      /alert protocol version/,
    );
  });

  it('keeps serving the old certificate when the new one is bad, logging an error that names the file', async () => {
    const { base, dir, ca, live, lines, server } = await start();
    writeFileSync(path.join(dir, 'garbage.pem'), 'not a certificate\n');
    replaceFile(path.join(dir, 'garbage.pem'), live.cert);
    const failure = await waitFor(
      () => lines().find((line) => line.message?.toString().startsWith('TLS certificate reload failed')),
      'the failed reload to be logged',
      NOTICED,
    );
    expect(failure).toMatchObject({ level: 'error', file: live.cert, reason: 'files changed' });
    expect(String(failure.err)).toContain(live.cert);
    expect((await httpsRequest(`${base}/healthz`, { ca: ca.cert })).serial).toBe('1001');

    // A key that belongs to another certificate: the error names the key file; the old one stays.
    const other = makeCert(ca, path.join(dir, 'made'), 'other', { serial: '1003', usage: 'server' });
    const renewed = makeCert(ca, path.join(dir, 'made'), 'renewed', { serial: '1002', usage: 'server' });
    replaceFile(renewed.cert, live.cert);
    replaceFile(other.key, live.key);
    expect(server.reloadTls('SIGHUP')).toBe(false);
    const mismatch = lines().findLast((line) =>
      line.message?.toString().startsWith('TLS certificate reload failed'),
    );
    expect(mismatch).toMatchObject({ file: live.key, reason: 'SIGHUP' });
    expect(String(mismatch?.err)).toMatch(/is not the key of the certificate/);
    expect((await httpsRequest(`${base}/healthz`, { ca: ca.cert })).serial).toBe('1001');

    // The right key: served at once on an explicit reload.
    replaceFile(renewed.key, live.key);
    expect(server.reloadTls('SIGHUP')).toBe(true);
    expect((await httpsRequest(`${base}/healthz`, { ca: ca.cert })).serial).toBe('1002');
  });

  it('refuses to start with a missing, unreadable or mismatched file, naming the option and the path', () => {
    const dir = tempDir();
    const ca = makeCa(path.join(dir, 'ca'));
    const good = makeCert(ca, dir, 'good', { serial: '2001', usage: 'server' });
    const other = makeCert(ca, dir, 'other', { serial: '2002', usage: 'server' });
    writeFileSync(path.join(dir, 'empty-ca.pem'), 'nothing here\n');
    const build = (tls: Record<string, string>) => () =>
      new HttpServer({
        address: '127.0.0.1:0',
        bodyLimitBytes: 1024,
        requestTimeoutMs: 5_000,
        logger: createLogger({
          format: 'json',
          destination: new Writable({ write: (_c, _e, done) => done() }),
        }),
        tls: configSchema.parse({ server: { tls } }).server.tls,
        routes: [],
      });
    const problem = (tls: Record<string, string>) => {
      try {
        build(tls)();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      throw new Error('expected a ConfigError');
    };
    const missing = path.join(dir, 'missing.pem');
    expect(problem({ cert_file: missing, key_file: good.key })).toEqual([
      `server.tls.cert_file: ${missing}: cannot be read (ENOENT)`,
    ]);
    expect(problem({ cert_file: good.cert, key_file: dir })).toEqual([
      `server.tls.key_file: ${dir}: cannot be read (EISDIR)`,
    ]);
    expect(problem({ cert_file: good.cert, key_file: other.key })).toEqual([
      `server.tls.key_file: ${other.key}: is not the key of the certificate in ${good.cert}`,
    ]);
    expect(problem({ cert_file: good.key, key_file: good.key })[0]).toMatch(
      new RegExp(`^server\\.tls\\.cert_file: ${good.key}: not a PEM certificate`),
    );
    const emptyCa = path.join(dir, 'empty-ca.pem');
    expect(problem({ cert_file: good.cert, key_file: good.key, client_ca_file: emptyCa })).toEqual([
      `server.tls.client_ca_file: ${emptyCa}: holds no PEM certificate`,
    ]);
  });
});

describe('mutual TLS (server.tls.client_ca_file)', () => {
  it('refuses a client without a certificate, or with one another CA signed; serves one the client CA signed', async () => {
    const dir = tempDir();
    const clientCa = makeCa(path.join(dir, 'client-ca'), 'client-ca');
    const { base, ca, lines } = await start({ clientCa: clientCa.cert });
    const alertmanager = makeCert(clientCa, path.join(dir, 'clients'), 'alertmanager', {
      serial: '3001',
      usage: 'client',
    });
    const strangerCa = makeCa(path.join(dir, 'stranger-ca'), 'stranger-ca');
    const stranger = makeCert(strangerCa, path.join(dir, 'clients'), 'stranger', {
      serial: '3002',
      usage: 'client',
    });

    const tls12 = { maxVersion: 'TLSv1.2' } as const;
    // TLS 1.3: the server's alert arrives after the client's side of the handshake.
    await expect(httpsRequest(`${base}/healthz`, { ca: ca.cert })).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    });
    await expect(httpsRequest(`${base}/healthz`, { ca: ca.cert, client: stranger })).rejects.toThrow();
    // TLS 1.2: inside the handshake itself.
    await expect(httpsRequest(`${base}/healthz`, { ca: ca.cert, tls: tls12 })).rejects.toThrow(
      /alert handshake failure/,
    );
    await expect(
      httpsRequest(`${base}/healthz`, { ca: ca.cert, client: stranger, tls: tls12 }),
    ).rejects.toThrow();
    expect(lines().filter((line) => line.message === 'TLS handshake failed').length).toBeGreaterThanOrEqual(
      4,
    );
    // Made the same way as the stranger's, only signed by the client CA: served, in TLS 1.2 and 1.3.
    expect((await httpsRequest(`${base}/healthz`, { ca: ca.cert, client: alertmanager })).status).toBe(200);
    expect(
      (await httpsRequest(`${base}/healthz`, { ca: ca.cert, client: alertmanager, tls: tls12 })).status,
    ).toBe(200);
  });
});
