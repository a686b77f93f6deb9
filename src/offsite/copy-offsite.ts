import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatDuration } from '../core/duration.js';
import { errorMessage, FatalError, RetryableError, wrapError } from '../core/errors.js';
import type { ObjectInfo, ObjectStore, PutResult } from '../storage/object-store.js';
import { tempPath } from '../util/temp-files.js';
import { VERSION } from '../version.js';
import { type Crc32cFactory, crc32cOfFile, loadCrc32c } from './crc32c.js';
import { AGE_SUFFIX, agePayloadSize, type Ciphertext, encryptFile } from './encrypt.js';
import { OffsiteCode, OffsiteMetadata } from './offsite-errors.js';
import { readBackObject } from './read-back.js';

/** A verified local archive, as the catalog knows it. */
export interface LocalArchive {
  file: string;
  /** Bytes. */
  size: number;
  /** SHA-256 (hex) of the whole file. */
  sha256: string;
  /** SHA-256 (hex) of its manifest.json. */
  manifestSha256: string;
  /** CRC32C (base64) when the writer computed it as the bytes passed; else computed here. */
  crc32c?: string;
  /** The Cloud Run revision its manifest names, written as `cloud_run_revision` metadata. */
  revision?: string;
}

/** A confirmed copy: what the catalog records. */
export interface OffsiteCopy {
  objectName: string;
  generation: number;
  size: number;
  /** CRC32C (base64), equal to the local file's (to the ciphertext's when encrypted). */
  crc32c: string;
  /** ms since the epoch. */
  confirmedAt: number;
  /** `uploaded` by this call; `found`: already there (an earlier attempt landed) and matching. */
  outcome: 'uploaded' | 'found';
}

export type CopyStage = 'encrypting' | 'uploading' | 'uploaded' | 'found' | 'reading-back';

export interface CopyOffsiteOptions {
  /** `metadata` (default): size and CRC32C read back; `full`: also every byte, by SHA-256. */
  readBack?: 'metadata' | 'full';
  /** The whole copy (upload and read-back) fails with RW_OFFSITE_TIMEOUT past this; none by default. */
  timeoutMs?: number;
  /**
   * CRC32C of the local file, when it has to be read for it (an object found at the name, a client
   * that did not report the CRC32C of what it sent); @google-cloud/storage's by default.
   */
  crc32c?: Crc32cFactory;
  clock?: () => number;
  /** Written as `runwarden_version` metadata; this runwarden's by default. */
  version?: string;
  /** Storage class of the new object; the bucket's default when absent. */
  storageClass?: string;
  /** Told as each step starts (for logs and progress). */
  onStage?: (stage: CopyStage) => void;
  /**
   * age recipients (`age1...`) to encrypt the copy to: the bucket then holds only ciphertext. The
   * object name must end in `.age`. See copyOffsite for how such a copy is confirmed.
   */
  encryptTo?: readonly string[];
}

/**
 * Copies a verified archive to `objectName` and confirms it. Never overwrites: the upload is made
 * with ifGenerationMatch 0. It counts as confirmed only when the object's size and CRC32C read back
 * from the bucket equal the local file's (and, with readBack `full`, the SHA-256 of its bytes).
 * When the name is already taken (a retry whose first attempt landed, seen before uploading or as a
 * 412), the object there is confirmed if its size, CRC32C and `archive_sha256` metadata match the
 * local archive, and refused otherwise, untouched. Idempotent: calling it again after any failure
 * is safe. A copy of this call that reads back wrong is deleted (its own generation only) so a
 * retry can upload again.
 *
 * Encrypted (`encryptTo`): the archive is first encrypted to a temp file beside it (a name the
 * start-up cleanup removes once this process is gone; removed at the end either way), and that
 * ciphertext is uploaded with `encryption: age` metadata; `archive_sha256` stays the plaintext's, as
 * the catalog knows it. The upload is confirmed by the ciphertext's size and CRC32C (and SHA-256
 * with readBack `full`). A ciphertext is different on every encryption (a random file key), so an
 * object found at the name cannot be compared byte for byte: it is confirmed when its metadata
 * says `encryption: age` with this archive's `archive_sha256` and `manifest_sha256` and its size
 * is what age makes of an archive of this size (the payload exactly, plus a header); its CRC32C is
 * the one Cloud Storage computed from its bytes when it was written. Only a writer of the bucket
 * that forged those digests could pass that check, and such a writer can replace any copy anyway.
 *
 * Errors: FatalError RW_OFFSITE_CONFLICT (another object has the name), RW_OFFSITE_MISMATCH (the
 * read-back differs), RW_OFFSITE_LOCAL_CHANGED / RW_OFFSITE_LOCAL_IO (the local file); RetryableError
 * RW_OFFSITE_TIMEOUT, RW_OFFSITE_RACED; and the store's RW_STORAGE_* errors with their classes. An
 * abort of `signal` rejects with its reason.
 */
export async function copyOffsite(
  store: ObjectStore,
  archive: LocalArchive,
  objectName: string,
  signal: AbortSignal,
  options: CopyOffsiteOptions = {},
): Promise<OffsiteCopy> {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const bounded = timeout ? AbortSignal.any([signal, timeout]) : signal;
  // A local CRC32C computed from the file (an object found at the name, a client that did not report
  // the one it sent) is stopped when the copy ends either way.
  const local = new AbortController();
  const localSignal = AbortSignal.any([bounded, local.signal]);
  try {
    return await new Copy(store, archive, objectName, localSignal, options).run();
  } catch (error) {
    if (timeout?.aborted && !signal.aborted) {
      throw new RetryableError(
        OffsiteCode.timeout,
        `copy ${archive.file} to ${objectName}: not done within ${formatDuration(options.timeoutMs ?? 0)}`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    local.abort();
  }
}

/** What is uploaded: the archive itself, or its ciphertext. */
interface Upload {
  file: string;
  size: number;
  /** SHA-256 (hex) of the uploaded bytes: what a full read-back compares. */
  sha256: string;
}

class Copy {
  #localCrc32c: Promise<string> | undefined;
  #ciphertext: Ciphertext | undefined;

  constructor(
    readonly store: ObjectStore,
    readonly archive: LocalArchive,
    readonly name: string,
    readonly signal: AbortSignal,
    readonly options: CopyOffsiteOptions,
  ) {}

  get #encrypted(): boolean {
    return this.options.encryptTo !== undefined;
  }

  async run(): Promise<OffsiteCopy> {
    try {
      return await this.#run();
    } finally {
      if (this.#ciphertext) await rm(this.#ciphertext.file, { force: true });
    }
  }

  async #run(): Promise<OffsiteCopy> {
    await this.#checkLocal();
    const existing = await this.store.stat(this.name, this.signal);
    if (existing) return this.#confirmFound(existing);
    const upload = await this.#upload();
    this.options.onStage?.('uploading');
    let uploaded: PutResult;
    try {
      uploaded = await this.store.put(
        upload.file,
        this.name,
        {
          ifAbsent: true,
          contentType: this.#encrypted ? 'application/octet-stream' : 'application/zip',
          metadata: this.#metadata(),
          ...(this.options.storageClass ? { storageClass: this.options.storageClass } : {}),
        },
        this.signal,
      );
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'RW_STORAGE_PRECONDITION') throw error;
      // Someone (an earlier attempt whose answer was lost, another runwarden) created it meanwhile.
      const found = await this.store.stat(this.name, this.signal);
      if (!found) throw this.#raced('refused as existing, then gone', error);
      return this.#confirmFound(found);
    }
    this.options.onStage?.('uploaded');
    // The upload read the file and computed its CRC32C as the bytes went: reading it again for the
    // same number would double the CPU of the copy (the client's CRC32C is pure JavaScript).
    if (uploaded.sentCrc32c && !this.archive.crc32c)
      this.#localCrc32c ??= Promise.resolve(uploaded.sentCrc32c);
    const back = await this.store.stat(this.name, this.signal);
    if (!back) throw this.#raced(`deleted right after its upload (generation ${uploaded.generation})`);
    if (back.generation !== uploaded.generation) {
      throw this.#raced(
        `replaced right after its upload: generation ${back.generation}, not ${uploaded.generation}`,
      );
    }
    try {
      return await this.#confirm(back, 'uploaded');
    } catch (error) {
      if (!(error instanceof FatalError) || error.code !== OffsiteCode.mismatch) throw error;
      throw await this.#removeOwn(back, error);
    }
  }

  async #checkLocal(): Promise<void> {
    let size: number;
    try {
      size = (await stat(this.archive.file)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new FatalError(OffsiteCode.localChanged, `copy ${this.archive.file}: no such file`, {
          cause: error,
        });
      throw wrapError(`copy ${this.archive.file}`, error, OffsiteCode.localIo);
    }
    if (size !== this.archive.size) {
      throw new FatalError(
        OffsiteCode.localChanged,
        `copy ${this.archive.file}: it is ${size} bytes, the catalog says ${this.archive.size}; not copied`,
      );
    }
    if (this.#encrypted && !this.name.endsWith(AGE_SUFFIX)) {
      throw new FatalError(
        'RW_INTERNAL',
        `copy ${this.archive.file}: an encrypted copy's name must end in .age`,
      );
    }
  }

  /**
   * The file to upload: the archive (its CRC32C is the one the upload computed as the bytes went,
   * or read from the file only when the client did not report it), or its ciphertext.
   */
  async #upload(): Promise<Upload> {
    const recipients = this.options.encryptTo;
    if (!recipients) return this.archive;
    this.options.onStage?.('encrypting');
    const dir = path.dirname(this.archive.file);
    this.#ciphertext = await encryptFile(
      this.archive.file,
      recipients,
      tempPath(dir, `${path.basename(this.archive.file)}${AGE_SUFFIX}`),
      this.signal,
      this.options.crc32c ?? (await loadCrc32c()),
    );
    this.#localCrc32c = Promise.resolve(this.#ciphertext.crc32c);
    return this.#ciphertext;
  }

  #startLocalCrc32c(): Promise<string> {
    if (!this.#localCrc32c) {
      const known = this.archive.crc32c;
      this.#localCrc32c = known
        ? Promise.resolve(known)
        : (async () =>
            crc32cOfFile(this.archive.file, this.options.crc32c ?? (await loadCrc32c()), this.signal))();
      // Awaited later; an upload failing first must not leave it an unhandled rejection.
      this.#localCrc32c.catch(() => {});
    }
    return this.#localCrc32c;
  }

  #metadata(): Record<string, string> {
    return {
      [OffsiteMetadata.archiveSha256]: this.archive.sha256,
      [OffsiteMetadata.manifestSha256]: this.archive.manifestSha256,
      [OffsiteMetadata.version]: this.options.version ?? VERSION,
      ...(this.#encrypted ? { [OffsiteMetadata.encryption]: 'age' } : {}),
      ...(this.archive.revision ? { [OffsiteMetadata.revision]: this.archive.revision } : {}),
    };
  }

  /** An object already at the name: this archive's copy, or a conflict left untouched. */
  async #confirmFound(found: ObjectInfo): Promise<OffsiteCopy> {
    this.options.onStage?.('found');
    const differences = await this.#differences(found, true);
    if (differences.length > 0) {
      throw new FatalError(
        OffsiteCode.conflict,
        `copy ${this.archive.file}: ${this.name} already holds another object (generation ${found.generation}): ` +
          `${differences.join('; ')}. It was left as it is and nothing was uploaded; move it away or change the prefix`,
      );
    }
    return this.#confirm(found, 'found');
  }

  async #confirm(info: ObjectInfo, outcome: OffsiteCopy['outcome']): Promise<OffsiteCopy> {
    const differences = outcome === 'uploaded' ? await this.#differences(info, false) : [];
    if (differences.length > 0) {
      throw new FatalError(
        OffsiteCode.mismatch,
        `copy ${this.archive.file}: ${this.name} read back differs from the file: ${differences.join('; ')}`,
      );
    }
    // A found encrypted copy is another ciphertext than any this call could make: nothing to hash.
    const sha256 = this.#encrypted ? this.#ciphertext?.sha256 : this.archive.sha256;
    if (this.options.readBack === 'full' && sha256 !== undefined) {
      this.options.onStage?.('reading-back');
      await readBackObject(
        this.store,
        this.name,
        { generation: info.generation, size: info.size, sha256 },
        this.signal,
      );
    }
    return {
      objectName: this.name,
      generation: info.generation,
      size: info.size,
      crc32c: info.crc32c,
      confirmedAt: (this.options.clock ?? Date.now)(),
      outcome,
    };
  }

  /**
   * How the object differs from what was uploaded (size, CRC32C), and for a found one from the
   * archive (its digests; an encrypted one by its metadata and age's size for the archive).
   */
  async #differences(info: ObjectInfo, withDigests: boolean): Promise<string[]> {
    const out: string[] = [];
    if (this.#encrypted && withDigests) {
      const encryption = info.metadata[OffsiteMetadata.encryption];
      if (encryption !== 'age') out.push(`it is not marked encrypted (encryption: ${encryption ?? 'unset'})`);
      const payload = agePayloadSize(this.archive.size);
      // The header holds a stanza per recipient: at least the version and MAC lines and one stanza.
      if (info.size < payload + MIN_AGE_HEADER)
        out.push(
          `it is ${info.size} bytes, too small for age ciphertext of the ${this.archive.size}-byte archive`,
        );
    } else {
      const size = this.#ciphertext?.size ?? this.archive.size;
      const what = this.#encrypted ? 'the ciphertext' : 'the archive';
      if (info.size !== size) out.push(`it is ${info.size} bytes, ${what} ${size}`);
      const crc32c = await this.#startLocalCrc32c();
      if (info.crc32c !== crc32c) out.push(`its CRC32C is ${info.crc32c || 'unknown'}, ${what}'s ${crc32c}`);
    }
    if (withDigests) {
      for (const [key, want] of [
        [OffsiteMetadata.archiveSha256, this.archive.sha256],
        [OffsiteMetadata.manifestSha256, this.archive.manifestSha256],
      ] as const) {
        const have = info.metadata[key];
        if (have !== want)
          out.push(
            have === undefined ? `it has no ${key} metadata` : `its ${key} is ${have}, the archive's ${want}`,
          );
      }
    }
    return out;
  }

  /**
   * Deletes the bad copy this call made (that generation only: a newer one is someone else's), so
   * a retry uploads again; returns the error to throw, saying what became of it.
   */
  async #removeOwn(info: ObjectInfo, mismatch: FatalError): Promise<FatalError> {
    const copy = `the bad copy (generation ${info.generation})`;
    try {
      await this.store.delete(this.name, { ifGenerationMatch: info.generation }, this.signal);
      return new FatalError(mismatch.code, `${mismatch.message}; ${copy} was removed`, { cause: mismatch });
    } catch (error) {
      return new FatalError(
        mismatch.code,
        `${mismatch.message}; removing ${copy} failed: ${errorMessage(error)}`,
        {
          cause: mismatch,
        },
      );
    }
  }

  #raced(what: string, cause?: unknown): RetryableError {
    return new RetryableError(
      OffsiteCode.raced,
      `copy ${this.archive.file}: ${this.name} was ${what}; try again`,
      {
        cause,
      },
    );
  }
}

/** The smallest age header: version line, one X25519 stanza (two lines), MAC line. */
const MIN_AGE_HEADER = 22 + 54 + 44 + 48;
