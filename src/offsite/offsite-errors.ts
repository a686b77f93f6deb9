/**
 * Codes of the errors off-site copies raise, besides the RW_STORAGE_* codes of the store (which keep
 * their class: a RetryableError from the store is worth trying again later).
 */
export const OffsiteCode = {
  /** FatalError: another object already has the name and is not this archive; it was left untouched. */
  conflict: 'RW_OFFSITE_CONFLICT',
  /** FatalError: what the bucket holds after the upload is not the local file. */
  mismatch: 'RW_OFFSITE_MISMATCH',
  /** FatalError: the local archive is gone or not the size the catalog says. */
  localChanged: 'RW_OFFSITE_LOCAL_CHANGED',
  /** FatalError: reading the local archive failed. */
  localIo: 'RW_OFFSITE_LOCAL_IO',
  /** RetryableError: the copy took longer than upload_timeout. */
  timeout: 'RW_OFFSITE_TIMEOUT',
  /** RetryableError: the object changed under the copy (deleted or replaced between two requests). */
  raced: 'RW_OFFSITE_RACED',
  /** FatalError: the age library refused to encrypt (a recipient it does not take). */
  encrypt: 'RW_OFFSITE_ENCRYPT',
  /** FatalError: an encrypted copy does not decrypt past its header (damaged or not age). */
  decrypt: 'RW_OFFSITE_DECRYPT',
  /** UsageError message names it: a gs:// URL that is not gs://bucket/object. */
  url: 'RW_USAGE',
} as const;

/** Custom metadata set on every copy: what a later check (or a person) compares it with. */
export const OffsiteMetadata = {
  archiveSha256: 'archive_sha256',
  manifestSha256: 'manifest_sha256',
  version: 'runwarden_version',
  /** `age` on a copy encrypted before upload (archive_sha256 is then of the plaintext). */
  encryption: 'encryption',
  /**
   * The Cloud Run revision the archive's manifest names (K_REVISION of the sidecar that took it),
   * so a sidecar learns from a listing, without downloading, whether its revision is backed up.
   */
  revision: 'cloud_run_revision',
} as const;
