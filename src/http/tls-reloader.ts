import type { ServerTlsConfig } from '../config/schema/server.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { readTlsMaterial, type TlsFileError, type TlsMaterial, tlsFilesSignature } from './tls-files.js';

/**
 * Keeps a server's certificate current: checks the files every `check_interval` and reloads them
 * when they changed (a renewal by certbot or cert-manager), or at once on `reload()` (SIGHUP).
 * A new set that does not load (unreadable, malformed, a key that does not match) is logged as an
 * error naming the file, and the certificate being served stays. A half-written renewal seen
 * between two writes is therefore harmless: the next change is tried again.
 */
export class TlsReloader {
  readonly #tls: ServerTlsConfig;
  readonly #logger: Logger;
  readonly #apply: (material: TlsMaterial) => void;
  #signature: string;
  #timer: NodeJS.Timeout | undefined;

  /** `material` is what the server serves now, read from `tls` a moment ago. */
  constructor(
    tls: ServerTlsConfig,
    material: TlsMaterial,
    logger: Logger,
    apply: (material: TlsMaterial) => void,
  ) {
    this.#tls = tls;
    this.#logger = logger;
    this.#apply = apply;
    this.#signature = tlsFilesSignature(tls);
    this.#logged(material, 'TLS certificate loaded');
  }

  /** Starts checking the files for changes; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#checkForChange(), this.#tls.check_interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reads the files again now; true when the new certificate is served. Never throws. */
  reload(reason: string): boolean {
    this.#signature = tlsFilesSignature(this.#tls);
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.#tls);
    } catch (error) {
      this.#logger.error(
        { reason, file: (error as Partial<TlsFileError>).file, err: errorMessage(error) },
        'TLS certificate reload failed; still serving the previous certificate',
      );
      return false;
    }
    try {
      this.#apply(material);
    } catch (error) {
      this.#logger.error(
        { reason, file: this.#tls.cert_file, err: errorMessage(error) },
        'TLS certificate reload failed; still serving the previous certificate',
      );
      return false;
    }
    this.#logged(material, 'TLS certificate reloaded', reason);
    return true;
  }

  #checkForChange(): void {
    if (tlsFilesSignature(this.#tls) === this.#signature) return;
    this.reload('files changed');
  }

  #logged(material: TlsMaterial, message: string, reason?: string): void {
    const { serial, subject, validTo } = material.certificate;
    this.#logger.info(
      { ...(reason ? { reason } : {}), file: this.#tls.cert_file, serial, subject, valid_to: validTo },
      message,
    );
  }
}
