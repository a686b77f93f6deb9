/** One object in a bucket, as the store reports it. */
export interface ObjectInfo {
  /** Full object name, prefix included. */
  name: string;
  /** Cloud Storage's generation: changes on every write of the object, never reused. */
  generation: number;
  /** Changes on every metadata update of one generation; 1 for a fresh write. */
  metageneration: number;
  /** Bytes. */
  size: number;
  /** CRC32C of the stored bytes, base64 (as Cloud Storage shows it). */
  crc32c: string;
  /** MD5 of the stored bytes, base64; absent for composite objects. */
  md5Hash?: string;
  /** Custom metadata. */
  metadata: Record<string, string>;
  /** STANDARD, NEARLINE, ...; empty when the API did not say. */
  storageClass: string;
  /** Epoch ms of the last change. */
  updated: number;
}

/** What `put` stored, and the CRC32C of the bytes it read from the file and sent. */
export interface PutResult extends ObjectInfo {
  /**
   * CRC32C (base64) of the bytes read from the local file and sent, computed by the upload's own
   * validation as they passed (so the file is not read a second time to learn it); absent when the
   * client did not report it.
   */
  sentCrc32c?: string;
}

export interface PutOptions {
  /** Only create: refused with RW_STORAGE_PRECONDITION when the name exists (never overwrites). */
  ifAbsent?: boolean;
  /** Only replace this generation (0: only create). Exclusive with ifAbsent. */
  ifGenerationMatch?: number;
  metadata?: Record<string, string>;
  contentType?: string;
  /** STANDARD, NEARLINE, COLDLINE or ARCHIVE; the bucket's default when absent. */
  storageClass?: string;
}

export interface ReadOptions {
  /** Inclusive byte range; without it the whole object, checked against its CRC32C. */
  range?: { start: number; end?: number };
}

export interface DownloadOptions {
  /** Only this generation (an archive's cataloged copy): RW_STORAGE_NOT_FOUND when it is gone. */
  generation?: number;
}

export interface DeleteOptions {
  /** Only delete this generation: refused with RW_STORAGE_PRECONDITION when the object changed. */
  ifGenerationMatch?: number;
}

/**
 * A bucket (or a prefix of one) holding objects, in domain nouns: the off-site copies of archives and
 * small state objects written with compare-and-swap. Every method takes an AbortSignal (an abort
 * rejects with the signal's reason) and fails with the classes of src/errors.ts and stable codes:
 * - RetryableError RW_STORAGE_UNAVAILABLE (5xx, dropped connection), RW_STORAGE_TIMEOUT,
 *   RW_STORAGE_THROTTLED (429), RW_STORAGE_INTERRUPTED (an upload lost bytes: start it again);
 * - FatalError RW_STORAGE_PRECONDITION (a generation precondition failed: someone else wrote or
 *   deleted it; re-read and decide again), RW_STORAGE_NOT_FOUND, RW_STORAGE_DENIED (403),
 *   RW_STORAGE_CREDENTIALS, RW_STORAGE_CORRUPT (bytes do not match their CRC32C), RW_STORAGE_INVALID,
 *   RW_STORAGE_FAILED.
 * Transient failures are already retried (bounded) before they surface.
 */
export interface ObjectStore {
  /**
   * Uploads a local file as `name` (resumable, in chunks, for large files: a dropped connection
   * resumes where the bucket's copy ends), checked end to end with CRC32C. Resolves with the stored
   * object once Cloud Storage has it whole.
   */
  put(file: string, name: string, options: PutOptions, signal: AbortSignal): Promise<PutResult>;
  /**
   * Writes a small object in one request; with `ifGenerationMatch` a compare-and-swap (0: create
   * only). Resolves with the new generation.
   */
  write(name: string, bytes: Buffer, options: PutOptions, signal: AbortSignal): Promise<ObjectInfo>;
  /** Reads a small object (or a range of one) into memory, with the generation the bytes belong to. */
  read(
    name: string,
    options: ReadOptions,
    signal: AbortSignal,
  ): Promise<{ bytes: Buffer; generation: number }>;
  /** The object's metadata, or undefined when there is no such object. */
  stat(name: string, signal: AbortSignal): Promise<ObjectInfo | undefined>;
  /** Every object whose name starts with `prefix`, in name order (pages through the bucket). */
  list(prefix: string, signal: AbortSignal): Promise<ObjectInfo[]>;
  /**
   * Streams the object to `toFile` (written as `<toFile>.partial`, renamed when whole and checked
   * against its CRC32C; removed on failure). Resolves with the generation that was downloaded.
   */
  download(name: string, toFile: string, signal: AbortSignal, options?: DownloadOptions): Promise<ObjectInfo>;
  /** Deletes the object; RW_STORAGE_NOT_FOUND when there is none. */
  delete(name: string, options: DeleteOptions, signal: AbortSignal): Promise<void>;
}
