import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { ServerTlsConfig } from '../config/schema/server.js';
import { ConfigError, errorMessage } from '../core/errors.js';

/** The oldest protocol served: TLS 1.0 and 1.1 are refused during the handshake. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** What the server serves, read and checked from the configured files. */
export interface TlsMaterial {
  /** Options for `createServer` / `setSecureContext`. */
  context: SecureContextOptions;
  /** The served certificate, for logs: serial (hex), subject, expiry. */
  certificate: { serial: string; subject: string; validTo: string };
}

/** A problem with one of the TLS files: which option, which file, what was wrong. */
export class TlsFileError extends ConfigError {
  readonly file: string;

  constructor(option: string, file: string, problem: string, cause?: unknown) {
    super(`server.tls.${option} ${file}: ${problem}`, [`server.tls.${option}: ${file}: ${problem}`], {
      cause,
    });
    this.file = file;
  }
}

/**
 * Reads the certificate chain, its key and the client CA file, and checks that they make a working
 * server context (each parses, the key matches the certificate). Throws TlsFileError naming the
 * option and the file at the first problem; reads only, never changes a file.
 */
export function readTlsMaterial(tls: ServerTlsConfig): TlsMaterial {
  const certPem = read('cert_file', tls.cert_file);
  const keyPem = read('key_file', tls.key_file);
  const caPem = tls.client_ca_file === undefined ? undefined : read('client_ca_file', tls.client_ca_file);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new TlsFileError(
      'cert_file',
      tls.cert_file,
      `not a PEM certificate (${errorMessage(error)})`,
      error,
    );
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new TlsFileError(
      'key_file',
      tls.key_file,
      `not an unencrypted PEM private key (${errorMessage(error)})`,
      error,
    );
  }
  if (!certificate.checkPrivateKey(key))
    throw new TlsFileError('key_file', tls.key_file, `is not the key of the certificate in ${tls.cert_file}`);
  if (caPem !== undefined && tls.client_ca_file !== undefined) checkCaBundle(tls.client_ca_file, caPem);
  const context: SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    minVersion: MIN_TLS_VERSION,
    ...(caPem === undefined ? {} : { ca: caPem }),
  };
  try {
    createSecureContext(context);
  } catch (error) {
    throw new TlsFileError('cert_file', tls.cert_file, `cannot be served (${errorMessage(error)})`, error);
  }
  return {
    context,
    certificate: {
      serial: certificate.serialNumber,
      subject: certificate.subject.replaceAll('\n', ', '),
      validTo: new Date(certificate.validTo).toISOString(),
    },
  };
}

/**
 * A fingerprint of the files' metadata (through symbolic links, as certbot's live/ folder and
 * Kubernetes secret volumes swap them): it changes when any file is replaced or rewritten.
 */
export function tlsFilesSignature(tls: ServerTlsConfig): string {
  return [tls.cert_file, tls.key_file, tls.client_ca_file]
    .filter((file) => file !== undefined)
    .map((file) => {
      try {
        const stat = statSync(file);
        return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
      } catch (error) {
        return `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
      }
    })
    .join('|');
}

function read(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    throw new TlsFileError(option, file, `cannot be read (${code})`, error);
  }
}

/** Each certificate of a CA bundle parses, and there is at least one (OpenSSL skips garbage silently). */
function checkCaBundle(file: string, pem: Buffer): void {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!blocks) throw new TlsFileError('client_ca_file', file, 'holds no PEM certificate');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new TlsFileError(
        'client_ca_file',
        file,
        `holds a certificate that does not parse (${errorMessage(error)})`,
        error,
      );
    }
  }
}
