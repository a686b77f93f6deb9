import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

// Certificates made with the real `openssl` (Debian package openssl, listed in
// scripts/test-prereqs.mjs) in the test's temp folder: a CA, servers and clients it signs.

export interface Pem {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.error)
    throw new Error(`openssl could not start (install Debian package "openssl"): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${result.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA in `dir` (files `<name>.pem`, `<name>.key`). */
export function makeCa(dir: string, name = 'ca'): Pem {
  mkdirSync(dir, { recursive: true });
  const pem = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      pem.key,
      '-out',
      pem.cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return pem;
}

/**
 * A certificate signed by `ca` with the given serial (hex), for 127.0.0.1/localhost as a server or
 * as a client. Files `<name>.pem` and `<name>.key` in `dir`.
 */
export function makeCert(
  ca: Pem,
  dir: string,
  name: string,
  options: { serial: string; usage: 'server' | 'client' },
): Pem {
  mkdirSync(dir, { recursive: true });
  const pem = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    options.usage === 'server'
      ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
      : 'extendedKeyUsage=clientAuth\n',
  );
  openssl(['req', '-new', ...EC_KEY, '-keyout', pem.key, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${options.serial}`,
      '-days',
      '2',
      '-out',
      pem.cert,
      '-extfile',
      ext,
    ],
    dir,
  );
  return pem;
}

export interface HttpsAnswer {
  status: number;
  body: string;
  /** Negotiated protocol, e.g. TLSv1.3. */
  protocol: string | null;
  /** Serial of the certificate the server presented, upper-case hex as Node reports it. */
  serial: string;
}

/**
 * One HTTPS request on a fresh connection (no agent: a reloaded certificate shows on the next
 * request), trusting only `ca`; `client` presents a client certificate.
 */
export function httpsRequest(
  url: string,
  options: {
    ca: string;
    client?: Pem;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    tls?: Pick<RequestOptions, 'minVersion' | 'maxVersion' | 'ciphers'>;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        ca: readFileSync(options.ca),
        ...(options.client
          ? { cert: readFileSync(options.client.cert), key: readFileSync(options.client.key) }
          : {}),
        ...options.tls,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const protocol = socket.getProtocol();
        const serial = socket.getPeerCertificate().serialNumber;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            protocol,
            serial,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
