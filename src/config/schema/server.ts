import path from 'node:path';
import { z } from 'zod';
import { duration, listenAddress, option } from '../types.js';

/** A PEM file path; the message names what the file holds, so a missing one says what to give. */
function pemPath(what: string) {
  return z
    .string({ error: `expected the path of ${what}` })
    .min(1, { error: `expected the path of ${what}` });
}

const MIN_CHECK_INTERVAL_MS = 100;

// HTTPS is on when `tls` is present. The files are read when the daemon starts (an unreadable or
// malformed one stops it with the path named) and again when they change or on SIGHUP.
const tlsSchema = z
  .strictObject({
    cert_file: option(pemPath('a PEM certificate chain (the server certificate first)'), {
      description:
        'PEM certificate chain served, the server certificate first (certbot: fullchain.pem). Relative to the config file. Reloaded when it changes and on SIGHUP.',
      example: '/etc/letsencrypt/live/runwarden.example.com/fullchain.pem',
    }),
    key_file: option(pemPath('the PEM private key of cert_file'), {
      description: 'PEM private key of `cert_file` (certbot: privkey.pem), unencrypted. Reloaded with it.',
      example: '/etc/letsencrypt/live/runwarden.example.com/privkey.pem',
    }),
    client_ca_file: option(pemPath('a PEM file of CA certificates').optional(), {
      description:
        'Mutual TLS: PEM CA certificates that sign the allowed clients. Every connection must then present a client certificate they signed (others are refused during the handshake), and such a certificate authenticates the webhooks. Use a private CA that signs only your own clients, never a public CA bundle.',
    }),
    check_interval: option(duration.prefault('1m'), {
      description:
        'How often the certificate, key and client CA files are checked for changes (a renewal by certbot or cert-manager); SIGHUP reloads them at once.',
    }),
  })
  .superRefine((tls, context) => {
    // A stat of three files per check: anything faster than this only burns CPU.
    if (tls.check_interval < MIN_CHECK_INTERVAL_MS)
      context.addIssue({
        code: 'custom',
        path: ['check_interval'],
        message: `expected at least ${MIN_CHECK_INTERVAL_MS}ms`,
      });
  });

export const serverSchema = z
  .strictObject({
    address: option(listenAddress.default('127.0.0.1:9464'), {
      description:
        'Where the HTTP server listens (host:port). Serves /metrics, /healthz, /readyz, /startupz (backup role) and the webhooks.',
    }),
    body_limit_bytes: option(
      z
        .number()
        .int()
        .positive()
        .max(16 * 1024 * 1024)
        .default(1024 * 1024),
      {
        description: 'Largest request body accepted; larger bodies get 413.',
      },
    ),
    request_timeout: option(duration.prefault('10s'), {
      description: 'A request that has not been fully received and answered within this time is dropped.',
    }),
    trust_proxy: option(z.boolean().default(false), {
      description:
        'Behind a load balancer or Cloud Run: take the client address in logs from the first X-Forwarded-For entry (the connecting address is kept as `peer`). Leave false when clients connect directly, or any client could name itself.',
    }),
    tls: option(tlsSchema.optional(), {
      description:
        'Serve HTTPS (TLS 1.2 and 1.3 only) instead of plain HTTP. Off when absent. See "Exposing the webhook" in the README.',
    }),
  })
  .prefault({});

export type ServerConfig = z.output<typeof serverSchema>;
export type ServerTlsConfig = z.output<typeof tlsSchema>;

/** Makes the TLS file paths absolute, relative ones against `baseDir` (the config file's folder). */
export function resolveServerPaths(server: ServerConfig, baseDir: string): void {
  const tls = server.tls;
  if (!tls) return;
  tls.cert_file = path.resolve(baseDir, tls.cert_file);
  tls.key_file = path.resolve(baseDir, tls.key_file);
  if (tls.client_ca_file !== undefined) tls.client_ca_file = path.resolve(baseDir, tls.client_ca_file);
}
